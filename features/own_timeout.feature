@waits
Feature: The clinic's own automatic logout, whatever its length
  As a QA lead checking a staging server whose settings nobody may change
  I want the warning and the logout checked against my clinic's own idle timeout and warning
  So that I know the configuration we really run protects patient data, not only a test one

  @warning
  Scenario: Left alone, I am warned before the idle timeout and logged out at it
    Given I am signed in on my computer
    When the idle timeout less the warning and 2 seconds passes without activity
    Then no inactivity warning is shown
    When 4 more seconds pass
    Then the inactivity warning is shown
    When the warning passes
    Then I see the Sign In page, told I was logged out for inactivity
    And my computer's old session cookie no longer opens the patient list

  Scenario: Working before the deadline starts the idle timeout again
    Given I am signed in on my computer
    When half the idle timeout passes without activity
    And I type in the patient list
    And the idle timeout less 2 seconds passes without activity
    Then I am still signed in
    When 4 more seconds pass
    Then I see the Sign In page, told I was logged out for inactivity
