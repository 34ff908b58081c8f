Feature: What the clinic's IT sees while nobody is looking
  As the clinic's IT administrator, who answers for the server to the practice manager
  I want the server to end unattended sessions on its own, and its metrics to count every ended session
  So that the admin's session list and our dashboards show the truth, not whatever the last visitor asked

  @clock @session_list
  Scenario: A session nobody touches leaves the admin's list of active sessions at its deadline
    Given I am signed in on my computer
    When I close the browser on my computer without logging out
    And 29 minutes pass
    And the clinic's admin opens the list of active sessions
    And 1 more minute passes
    Then the admin's list of active sessions no longer shows me

  @clock @session_list @server_idle_timeout
  Scenario: The server ends a session nobody touches on its own, within seconds of its deadline
    Given I am signed in on my computer
    When I close the browser on my computer without logging out
    And 29 minutes pass
    And the clinic's admin opens the list of active sessions
    And 1 more minute passes with nobody asking the server about my session
    Then within 5 seconds the admin's list of active sessions no longer shows me

  @metrics @logout
  Scenario: The server's metrics count a logout
    Given I am signed in on my computer
    And the server's metrics have been read
    When I click "Log out" in the header
    Then the server's metrics count at least one more session ended by logout

  @metrics @clock
  Scenario: The server's metrics count a session ended for inactivity
    Given I am signed in on my computer
    And the server's metrics have been read
    When I close the browser on my computer without logging out
    And 31 minutes pass
    Then the server's metrics count at least one more session ended for inactivity
