@mobile
Feature: Logging out on a phone
  As a practitioner who uses the clinic app on my phone between appointments
  I want to log out from the app menu, and be logged out automatically when I leave the phone
  So that a lost or borrowed phone does not open my patients' records

  @mobile_layout
  Scenario: Log out from the app menu on a phone
    Given I am signed in on my phone
    Then my phone shows the app menu instead of the profile menu
    When I open the app menu and tap "Log out"
    Then I see the Sign In page, told I logged out
    And the server says my session ended with the reason "logout"

  @clock
  Scenario: A phone left alone is logged out automatically
    Given I am signed in on my phone
    When 28 minutes pass without activity
    Then the inactivity warning is shown with 2 minutes left
    When 2 more minutes pass
    Then I see the Sign In page, told I was logged out for inactivity
    And no patient data is shown

  @clock
  Scenario: An app left in the background past the deadline is logged out as soon as it comes back
    Given I am signed in on my phone
    When I switch to another app on my phone
    And 45 minutes pass
    And I come back to the clinic app
    Then no patient data is shown
    And I see the Sign In page, told I was logged out for inactivity

  @clock
  Scenario: An app back from the background before the deadline carries on
    Given I am signed in on my phone
    When I switch to another app on my phone
    And 10 minutes pass
    And I come back to the clinic app
    Then I am still signed in
    When 17 minutes 59 seconds pass without activity
    Then no inactivity warning is shown
    When 1 more second passes
    Then the inactivity warning is shown with 2 minutes left

  @clock @revoke @admin_ui
  Scenario: An app back from the background asks the server at once whether it is still signed in
    Given I am signed in on my phone
    When I switch to another app on my phone
    And the clinic's admin revokes my session from the clinic settings
    And 5 seconds pass
    And I come back to the clinic app
    Then I see the Sign In page, told an administrator ended my session

  @mobile_api
  Scenario: Logging out of the mobile app ends its session on the server
    Given I am signed in on the mobile app
    When I log out in the mobile app
    Then the mobile app's session is refused with the reason "logout"

  @mobile_api @session_limit_settable @logout_everywhere
  Scenario: Logging out of the mobile app ends its session while its web view also holds my browser session
    Given my clinic allows 2 active sessions per user
    And I am signed in on my phone
    And I am signed in on the mobile app
    And the mobile app's web view shares the cookies of my phone's browser
    When I log out in the mobile app
    Then the mobile app's session is refused with the reason "logout"
    And the server says my session on my phone is active
