Feature: Guessing passwords and codes gets nobody in
  As a clinic's privacy officer
  I want repeated wrong passwords to lock an account for a while, and each authenticator code to work only once
  So that nobody can guess their way into a practitioner's patient records, or reuse a code they saw over a shoulder

  @clock @signin_throttling
  Scenario: After ten wrong passwords even the right one is refused for a while
    When someone tries a wrong password for my account 10 times, a minute apart
    And 2 minutes later I sign in on my computer with my password
    Then I am told there were too many failed sign-ins and to try again later
    And my browser holds no session
    When 15 minutes have passed since the last wrong password
    And I sign in with my password
    Then I see the patient list

  @two_factor @admin_ui
  Scenario: A code from my authenticator works only once
    Given the clinic's admin has required two-factor authentication for everyone
    When I sign in on my computer with my password
    And I add the key to my authenticator app and enter its code
    Then I see the patient list
    When I click "Log out" in the header
    And I sign in with my password
    Then I am asked for the code from my authenticator app
    When I enter the code I used a moment ago
    Then I am told the code was already used
    And my browser holds no session
