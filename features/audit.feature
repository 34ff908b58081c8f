@admin @audit
Feature: The audit log and revoked sessions
  As a clinic administrator
  I want every end of a session recorded with its reason, and a way to end a session myself
  So that I can show who could see patient data and when, and shut a session I do not trust

  @clock @eviction @admin_ui
  Scenario: Logouts appear in the audit log with their reason
    Given I am signed in on my computer
    And my colleague is signed in on the front desk computer
    When I click "Log out" in the header
    And my colleague signs in on the treatment room computer
    And 30 minutes pass without activity
    And the clinic's admin opens the clinic settings
    Then the audit log shows these sessions ended
      | who          | reason  |
      | me           | logout  |
      | my colleague | evicted |
      | my colleague | idle    |

  @clock @revoke @admin_ui @status_polls
  Scenario: An administrator ends a session, and the user is told why
    Given I am signed in on my computer
    When the clinic's admin revokes my session from the clinic settings
    Then within 30 seconds my computer shows the Sign In page, told an administrator ended my session
    And the server says my session on my computer ended with the reason "revoked"
    And the audit log shows these sessions ended
      | who | reason  |
      | me  | revoked |

  @clock @revoke @admin_ui @status_polls @logout_everywhere
  Scenario: An administrator's revoke signs out every tab of my computer within 30 seconds
    Given I am signed in on my computer
    And I open the patient list in a second tab
    When the clinic's admin revokes my session from the clinic settings
    Then within 30 seconds every tab of my computer shows the Sign In page, told an administrator ended my session

  @admin_ui
  Scenario: Changing the automatic logout is audited
    Given I am the clinic's admin
    And I am signed in on my computer
    When I open the clinic settings
    And I set "Automatic logout after" to "8 hours"
    Then the page confirms the settings are saved and apply to everyone now
    And "Automatic logout after" is set to "8 hours"
    And the audit log shows I changed the settings
