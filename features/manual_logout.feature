@logout_everywhere
Feature: Logging out by hand
  As a practitioner who shares the clinic's computers
  I want to log out from any screen, with every tab of my browser following
  So that nobody who sits down after me can see my patients' records

  Scenario Outline: Log out with the header link from any screen
    Given I am the clinic's <role>
    And I am signed in on my computer
    And I am on the <screen> screen
    When I click "Log out" in the header
    Then I see the Sign In page, told I logged out
    And the server says my session ended with the reason "logout"

    Examples:
      | role         | screen   |
      | practitioner | Patients |
      | admin        | Settings |
      | receptionist | Patients |

  @profile_menu
  Scenario: Log out from the profile menu
    Given I am signed in on my computer
    When I open the profile menu and choose "Log out"
    Then I see the Sign In page, told I logged out
    And the server says my session ended with the reason "logout"

  @remember_me
  Scenario Outline: Logout lands on Recently Logged In only when this computer remembers me
    Given I signed in on my computer <choice> "Remember me on this device"
    When I click "Log out" in the header
    Then I land on the <screen> page, told I logged out

    Examples:
      | choice      | screen             |
      | ticking     | Recently Logged In |
      | not ticking | Sign In            |

  @remember_me
  Scenario: A remembered account is listed, and signing in again still needs the password
    Given I signed in on my computer ticking "Remember me on this device"
    When I click "Log out" in the header
    Then Recently Logged In lists my account
    When I choose my account
    Then the Sign In form has my email filled in and the password empty
    When I enter a wrong password
    Then I am told the email or password is wrong
    When I enter my password
    Then I see the patient list

  @remember_me
  Scenario: A remembered account can be removed from this computer
    Given I signed in on my computer ticking "Remember me on this device"
    And I click "Log out" in the header
    When I remove my account from Recently Logged In
    Then I see the Sign In page
    And Recently Logged In no longer lists my account on this computer

  @no_store
  Scenario: Back after logout shows no patient data
    Given I am signed in on my computer
    When I click "Log out" in the header
    And I press the browser's Back button
    Then no patient data is shown
    And I see the Sign In page

  @status_oracle
  Scenario: The old session cookie is dead after logout
    Given I am signed in on my computer
    When I click "Log out" in the header
    Then my computer's old session cookie is refused with the reason "logout"
    And putting the old session cookie back into my computer's browser does not open the patient list

  Scenario: Logging out in one tab ends the other tabs
    Given I am signed in on my computer
    And I open the patient list in a second tab
    When I click "Log out" in the header of the first tab
    Then the second tab hides the patient data at once
    And the second tab shows a sign-in page within a second

  @session_limit_settable @mobile_api
  Scenario: Logging out on my computer leaves my other devices signed in
    Given my clinic allows 3 active sessions per user
    And I am signed in on my laptop
    And I am signed in on the mobile app
    And I am signed in on my computer
    When I click "Log out" in the header
    Then my laptop still shows the patient list after a reload
    And the mobile app is still signed in
