@multi_device
Feature: Signing in on more than one device
  As a clinic owner
  I want each user to keep only as many sessions as the clinic allows, the newest sign-in winning
  So that a session forgotten on another computer cannot stay open behind the user's back

  @clock @eviction @status_polls
  Scenario: Signing in on a second computer signs out the first, which says why within 30 seconds
    Given I am signed in on my computer
    When I sign in on the front desk computer
    Then within 30 seconds my computer shows the Sign In page, told my account signed in on another device
    And the front desk computer still shows the patient list
    And the server says my session on my computer ended with the reason "evicted"

  @clock @eviction @status_polls @logout_everywhere
  Scenario: Signing in on a second computer signs out every tab of the first within 30 seconds
    Given I am signed in on my computer
    And I open the patient list in a second tab
    When I sign in on the front desk computer
    Then within 30 seconds every tab of my computer shows the Sign In page, told my account signed in on another device

  @clock @eviction @session_limit_settable @status_polls
  Scenario: With two sessions allowed, a third sign-in signs out the oldest
    Given my clinic allows 2 active sessions per user
    And I am signed in on my computer
    And 1 minute passes
    And I am signed in on my laptop
    And 1 minute passes
    And I click a patient in the patient list on my computer
    When I sign in on my phone
    Then within 30 seconds my computer shows the Sign In page, told my account signed in on another device
    And the server says my session on my laptop is active
    And the server says my session on my phone is active

  @eviction @status_oracle
  Scenario: The signed-out computer's session cookie stays dead
    Given I am signed in on my computer
    When I sign in on the front desk computer
    Then my computer's old session cookie is refused with the reason "evicted"
    When I click "Log out" in the header on the front desk computer
    Then my computer's old session cookie is refused with the reason "evicted"
    And putting the old session cookie back into my computer's browser does not open the patient list

  @clock @audit @status_oracle
  Scenario: Closing the browser without logging out still ends the session at the deadline
    Given I am signed in on my computer
    When I close the browser on my computer without logging out
    And 29 minutes 59 seconds pass
    Then the server says my session on my computer is active
    When 1 more second passes
    Then the audit log shows the server ended my session for inactivity exactly 30 minutes after I signed in

  @clock @eviction
  Scenario: Typing in a page whose session ended elsewhere shows Sign In at once
    Given I am signed in on my computer
    And I am signed in on the front desk computer
    When I type in the patient list on my computer
    Then within a second my computer shows the Sign In page, told my account signed in on another device

  @clock @session_limit_settable @settings @maximum_lifetime
  Scenario: Signing in on a second computer does not lengthen my first session's maximum length
    Given my clinic allows 2 active sessions per user and makes everyone sign in again after 1 hour, whatever they do
    And I am signed in on my computer
    When I keep working for 40 minutes
    And I sign in on my laptop
    And I keep working on my computer and my laptop for 19 minutes 59 seconds
    Then my computer still shows the patient list
    When I keep working on my computer and my laptop for 1 more second
    Then my computer shows the Sign In page, told my session reached its maximum length
    And the server says my session on my computer ended with the reason "absolute"
    And my laptop still shows the patient list
