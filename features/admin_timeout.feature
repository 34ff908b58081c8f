@admin
Feature: The clinic's automatic logout setting
  As a clinic administrator
  I want to choose how long an unattended session stays open, up to 7 days and never forever
  So that patient data is protected on every computer of my clinic, as our policy requires

  @admin_ui
  Scenario: The choices offered for automatic logout
    Given I am the clinic's admin
    And I am signed in on my computer
    When I open the clinic settings
    Then "Automatic logout after" offers exactly these choices
      | choice     | minutes |
      | 15 minutes | 15      |
      | 30 minutes | 30      |
      | 1 hour     | 60      |
      | 2 hours    | 120     |
      | 4 hours    | 240     |
      | 8 hours    | 480     |
      | 12 hours   | 720     |
      | 1 day      | 1440    |
      | 7 days     | 10080   |
    And "Automatic logout after" is set to "30 minutes"

  @clock @settings @countdown @server_idle_timeout
  Scenario Outline: Every choice logs out exactly at its deadline, and not a second before
    Given the clinic's admin has set the automatic logout to <choice>
    And I am signed in on my computer
    When 1 second less than <choice> passes without activity
    Then I am still signed in
    And the countdown shows 1 second left
    When 1 more second passes
    Then I see the Sign In page, told I was logged out for inactivity
    And the server says my session ended with the reason "idle"

    Examples:
      | choice     |
      | 15 minutes |
      | 30 minutes |
      | 1 hour     |
      | 2 hours    |
      | 4 hours    |
      | 8 hours    |
      | 12 hours   |
      | 1 day      |
      | 7 days     |

  @admin_api
  Scenario Outline: Longer than 7 days, zero and "Never" are refused, naming the limit
    Given I am the clinic's admin
    And I am signed in on my computer
    When I ask the server to set the automatic logout to <value> minutes
    Then the server refuses, naming the 7-day limit
    And the automatic logout is still "30 minutes"

    Examples:
      | value   |
      | 11520   |
      | 0       |
      | "never" |
      | null    |
      | -30     |

  @admin_ui
  Scenario Outline: A settings form altered by hand cannot set more than 7 days or "Never"
    Given I am the clinic's admin
    And I am signed in on my computer
    When I open the clinic settings
    And I alter the form to send "<value>" for "Automatic logout after" and save
    Then the settings page refuses, naming the 7-day limit
    And the automatic logout is still "30 minutes"

    Examples:
      | value |
      | 11520 |
      | 0     |
      | never |

  @admin_ui @admin_api
  Scenario: Only administrators can change the automatic logout
    Given I am signed in on my computer
    Then I see no "Settings" link
    When I go to the clinic settings address
    Then I am told only a clinic administrator can change the settings
    And the server refuses my change of the automatic logout as forbidden

  @clock @admin_ui @deadlines
  Scenario: A shorter timeout applies at once to users already idle
    Given I am signed in on my computer
    And 10 minutes pass
    And my colleague is signed in on the front desk computer
    And 10 minutes pass without activity
    When the clinic's admin sets "Automatic logout after" to "15 minutes"
    Then the server says my session ended with the reason "idle"
    And the server says my colleague's session ends in 5 minutes
    When 30 seconds pass
    Then my computer shows the Sign In page, told I was logged out for inactivity
    And my colleague still sees the patient list on the front desk computer
    When 4 minutes 29 seconds pass without activity
    Then my colleague still sees the patient list on the front desk computer
    When 1 more second passes
    Then the front desk computer shows the Sign In page, told I was logged out for inactivity

  @restart @admin_ui @audit
  Scenario: A clinic left on the old "Never" shows 7 days after start-up, and the change is audited
    Given a clinic whose automatic logout was stored as "never" by the old version
    When the server starts up
    And the clinic's admin opens the clinic settings on the restarted server
    Then "Automatic logout after" is set to "7 days"
    And the audit log shows the system changed the automatic logout from "never" to 10080 minutes

  @clock @maximum_lifetime @settings
  Scenario: The maximum session length ends even a busy session
    Given my clinic makes everyone sign in again after 1 hour, whatever they do
    And I am signed in on my computer
    When I keep working for 59 minutes 59 seconds
    Then I am still signed in
    And no inactivity warning is shown
    When I keep working for 1 more second
    Then I see the Sign In page, told my session reached its maximum length
    And the server says my session ended with the reason "absolute"

  @two_factor @admin_ui
  Scenario: Requiring two-factor authentication makes everyone enrol at their next sign-in
    Given the clinic's admin has required two-factor authentication for everyone
    When I sign in on my computer with my password
    Then I am asked to set up two-factor authentication
    When I add the key to my authenticator app and enter its code
    Then I see the patient list
    When I click "Log out" in the header
    And I sign in with my password
    Then I am asked for the code from my authenticator app
    When I enter a code that is not the current one
    Then I am told the code is not valid
    When I enter the current code from my authenticator app
    Then I see the patient list

  @two_factor @admin_ui
  Scenario: Setting up two-factor authentication needs a code my authenticator shows
    Given the clinic's admin has required two-factor authentication for everyone
    When I sign in on my computer with my password
    Then I am asked to set up two-factor authentication
    When I enter a code my authenticator did not show
    Then I am still asked to set up two-factor authentication, told the code is not valid
    And my browser holds no session

  @two_factor @admin_ui @mobile_api
  Scenario: The mobile app cannot sign in someone who has not set up the required two-factor authentication
    Given the clinic's admin has required two-factor authentication for everyone
    When I sign in on the mobile app with my password alone
    Then the mobile app is told to set up two-factor authentication on the web first, and gets no session

  @clock @warning @settings
  Scenario: A clinic's own warning length is honoured
    Given my clinic logs users out after 30 minutes without activity, with a 5 minute warning
    And I am signed in on my computer
    When 24 minutes 59 seconds pass without activity
    Then no inactivity warning is shown
    When 1 more second passes
    Then the inactivity warning is shown with 5 minutes left
    When 5 more minutes pass
    Then I see the Sign In page, told I was logged out for inactivity

  @clock @admin_api @deadlines @settings
  Scenario: A change of the automatic logout in another clinic leaves my clinic's deadlines alone
    Given another clinic was set up just before mine
    And I am signed in on my computer
    When the admin of the clinic set up before mine sets its automatic logout to 15 minutes
    And the admin of another clinic sets its automatic logout to 15 minutes
    And 20 minutes pass without activity
    Then the server says my session ends in 10 minutes
