@clock
Feature: Lost connections and wrong clocks
  As a practitioner on clinic Wi-Fi that drops out, using a laptop that sleeps and a clock that drifts
  I want automatic logout to follow the server's timer whatever my network or my computer's clock does
  So that patient data is hidden on time, and I am never logged out early

  Background:
    Given my clinic logs users out after 30 minutes without activity, with a 2 minute warning

  @data_hidden_at_deadline
  Scenario: Offline at the deadline, the page hides patient data
    Given I am signed in on my computer
    When my computer loses its connection
    And 30 minutes pass without activity
    Then no patient data is shown
    And the page shows the Sign In form, told I was logged out for inactivity
    And the server says my session ended with the reason "idle"

  @offline_signin
  Scenario: Signed out while offline, the Sign In page is there when the connection comes back
    Given I am signed in on my computer
    When my computer loses its connection
    And 30 minutes pass without activity
    And my computer's connection comes back
    Then I see the Sign In page, told I was logged out for inactivity

  @low_risk
  Scenario: Offline for a while and back before the deadline, I carry on
    Given I am signed in on my computer
    When 5 minutes pass without activity
    And my computer loses its connection
    And 10 minutes pass without activity
    And my computer's connection comes back
    Then I am still signed in
    And no inactivity warning is shown
    And the server says my session ends in 15 minutes

  @low_risk
  Scenario: Work done while offline counts once the connection is back
    Given I am signed in on my computer
    When my computer loses its connection
    And 20 minutes pass without activity
    And I type in the patient list
    And 5 minutes pass without activity
    And my computer's connection comes back
    And 24 minutes 59 seconds pass without activity
    Then I am still signed in
    When 1 more second passes
    Then I see the Sign In page, told I was logged out for inactivity

  Scenario Outline: A computer clock that is off by minutes or hours changes nothing
    Given my computer's clock is <offset>
    And I am signed in on my computer
    When 27 minutes 59 seconds pass without activity
    Then no inactivity warning is shown
    When 1 more second passes
    Then the inactivity warning is shown with 2 minutes left
    When 2 more minutes pass
    Then I see the Sign In page, told I was logged out for inactivity

    Examples:
      | offset          |
      | 10 minutes fast |
      | 10 minutes slow |
      | 3 hours fast    |

  @low_risk
  Scenario: My computer's clock jumping ahead on its own changes nothing
    Given I am signed in on my computer
    When my computer's clock jumps 45 minutes ahead on its own
    Then no inactivity warning is shown
    And I am still signed in
    When 28 minutes pass without activity
    Then the inactivity warning is shown with 2 minutes left

  @data_hidden_at_deadline
  Scenario: My computer's clock being set back on its own changes nothing
    Given I am signed in on my computer
    When 25 minutes pass without activity
    And my computer's clock is set back 10 minutes on its own
    And 3 minutes pass without activity
    Then the inactivity warning is shown with 2 minutes left
    When 2 more minutes pass
    Then I see the Sign In page, told I was logged out for inactivity

  @data_hidden_at_deadline
  Scenario: A laptop that sleeps past the deadline is logged out when it wakes
    Given I am signed in on my laptop
    When my laptop sleeps for 2 hours
    Then I see the Sign In page, told I was logged out for inactivity
    And no patient data is shown
    And the server says my session ended with the reason "idle"
