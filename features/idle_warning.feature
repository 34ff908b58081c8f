@clock @warning
Feature: The inactivity warning
  As a practitioner who is often called away from my desk
  I want a clear warning with a countdown before I am logged out for inactivity, and a way to stay
  So that an unattended screen stops showing patient data, and I keep my place when I am still there

  Background:
    Given my clinic logs users out after 30 minutes without activity, with a 2 minute warning
    And I am signed in on my computer

  @countdown
  Scenario: The warning appears two minutes before the deadline, with a countdown
    When 27 minutes 59 seconds pass without activity
    Then no inactivity warning is shown
    When 1 more second passes
    Then the inactivity warning is shown with 2 minutes left
    When 45 seconds pass
    Then the countdown shows 1 minute 15 seconds left

  @stay_logged_in @deadlines
  Scenario: "Stay Logged In" resets the timer, and the server agrees
    When 28 minutes pass without activity
    And I click "Stay Logged In"
    Then the warning closes
    And the server says my last activity was just now
    When 27 minutes 59 seconds pass without activity
    Then no inactivity warning is shown
    When 1 more second passes
    Then the inactivity warning is shown with 2 minutes left

  @countdown
  Scenario: The countdown never shows less time than is left
    When 28 minutes pass without activity
    And 1 minute 59.5 seconds pass
    Then the countdown shows 1 second left
    And I am still signed in

  @cross_tab
  Scenario: Opening the patient list in another tab just before the warning keeps the warning away
    When 27 minutes 50 seconds pass without activity
    And I open the patient list in a second tab
    And 10 seconds pass
    Then neither tab shows the inactivity warning

  @countdown @data_hidden_at_deadline
  Scenario: Ignoring the warning logs me out and hides the patient data
    When 28 minutes pass without activity
    Then the inactivity warning is shown with 2 minutes left
    When 1 minute 59 seconds pass
    Then I am still signed in
    And the countdown shows 1 second left
    When 1 more second passes
    Then I see the Sign In page, told I was logged out for inactivity
    And no patient data is shown
    And the server says my session ended with the reason "idle"

  @logout_now
  Scenario: "Log out now" logs me out at once
    When 28 minutes pass without activity
    And I click "Log out now"
    Then I see the Sign In page, told I logged out
    And the server says my session ended with the reason "logout"

  @warning_on_purpose
  Scenario: Pressing Escape does not dismiss the warning
    When 28 minutes pass without activity
    And I press Escape
    Then the inactivity warning is still shown
    And the server says my last activity was when I signed in

  @warning_on_purpose
  Scenario Outline: A stray <stray> neither closes the warning nor counts as activity
    When 28 minutes pass without activity
    And <input>
    Then the inactivity warning is still shown
    And the server says my last activity was when I signed in

    Examples:
      | stray      | input                           |
      | mouse move | the mouse moves across the page |
      | key press  | a key is pressed by accident    |

  @deadlines @low_risk
  Scenario: The server learns of my work within half a minute
    When 10 minutes pass without activity
    And I type in the patient list
    Then within 30 seconds the server knows I was active

  Scenario Outline: Working in the page resets the timer
    When 20 minutes pass without activity
    And I <work> in the patient list
    And 27 minutes 59 seconds pass without activity
    Then no inactivity warning is shown
    And I am still signed in

    Examples:
      | work            |
      | type            |
      | click a patient |

  @status_polls @only_real_input_extends
  Scenario: A page that only checks its status in the background is still logged out on time
    When 28 minutes pass without activity, the page checking its status every 15 seconds
    Then the page asked the server for its status at least 100 times
    And the inactivity warning is shown with 2 minutes left
    And the server says my last activity was when I signed in
    When 2 more minutes pass
    Then I see the Sign In page, told I was logged out for inactivity

  @cross_tab @deadlines
  Scenario: Working in one tab keeps the other tab signed in
    Given I open the patient list in a second tab
    When 20 minutes pass without activity
    And I type in the first tab
    And 9 minutes pass without activity
    Then neither tab shows the inactivity warning
    And both tabs still show the patient list
    And the server says my session ends in 21 minutes

  @cross_tab @stay_logged_in @deadlines
  Scenario: A warning answered in one tab closes in the other
    Given I open the patient list in a second tab
    When 28 minutes pass without activity
    Then both tabs show the inactivity warning
    When I click "Stay Logged In" in the first tab
    Then the warning closes in the second tab too
    And the server says my last activity was just now
