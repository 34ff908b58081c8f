@clock
Feature: Only my own activity keeps my session open
  As a clinic's privacy officer
  I want a session to stay open only while a person really uses it, whatever the page's scripts, a forged report or the computer's clock say
  So that a screen left alone, or a tampered page, stops showing patient data on time

  @only_real_input_extends
  Scenario: A page that fetches app pages in the background is still logged out on time
    Given my clinic logs users out after 30 minutes without activity, with a 2 minute warning
    And I am signed in on my computer
    When 29 minutes 59 seconds pass without activity, the page fetching the patient list in the background every minute
    Then I am still signed in
    When 1 more second passes
    Then I see the Sign In page, told I was logged out for inactivity
    And my computer's old session cookie no longer opens the patient list

  @server_idle_timeout
  Scenario: A browser closed without logging out leaves a session the server ends at its deadline
    Given my clinic logs users out after 30 minutes without activity, with a 2 minute warning
    And I am signed in on my computer
    When I close the browser on my computer without logging out
    And 29 minutes 59 seconds pass
    Then the server says my session on my computer is active
    When 1 more second passes
    Then my computer's old session cookie no longer opens the patient list

  @data_hidden_at_deadline @no_store
  Scenario: Back after the automatic logout shows no patient data
    Given my clinic logs users out after 30 minutes without activity, with a 2 minute warning
    And I am signed in on my computer
    When 30 minutes pass without activity
    Then I see the Sign In page, told I was logged out for inactivity
    When I press the browser's Back button
    Then no patient data is shown

  @activity_reports @only_real_input_extends
  Scenario: Reports that nothing happened cannot keep a session open
    Given my clinic logs users out after 30 minutes without activity, with a 2 minute warning
    And I am signed in on my computer
    When I close the browser on my computer without logging out
    And 30 minutes pass, someone with my session cookie reporting every minute that nothing happened
    Then my computer's old session cookie no longer opens the patient list

  @activity_reports @only_real_input_extends
  Scenario: A forged report of activity in the future cannot keep a session open past its idle timeout
    Given my clinic logs users out after 30 minutes without activity, with a 2 minute warning
    And I am signed in on my computer
    When I close the browser on my computer without logging out
    And 20 minutes pass
    And someone with my session cookie reports that I was active an hour from now
    And 10 minutes pass
    Then my computer's old session cookie no longer opens the patient list

  @maximum_lifetime
  Scenario: Reports of activity forged every few minutes cannot keep a session open past its maximum length
    Given I am signed in on my computer
    When I close the browser on my computer without logging out
    And someone with my session cookie reports every few minutes that I am working, for as long as a session may last
    Then the server has ended my computer's session for its maximum length

  @session_api
  Scenario: The contract's heartbeat refuses a report of activity in the future
    Given I am signed in on my computer
    When someone with my session cookie reports that I was active an hour from now
    Then the server refuses the report as invalid

  @only_real_input_extends
  Scenario: My computer's clock set back after I worked does not move the server's deadline
    Given my clinic logs users out after 30 minutes without activity, with a 2 minute warning
    And I am signed in on my computer
    When 10 minutes pass without activity
    And I type in the patient list
    And my computer's clock is set back 1 hour on its own
    And 30 minutes pass without activity
    Then I see the Sign In page, told I was logged out for inactivity
    And my computer's old session cookie no longer opens the patient list

  @warning @settings
  Scenario Outline: A long automatic logout warns on time and ends on time
    Given my clinic logs users out after <timeout> without activity, with a 2 minute warning
    And I am signed in on my laptop
    When time reaches 2 minutes 1 second before my session's deadline
    Then no inactivity warning is shown
    When 1 more second passes
    Then the inactivity warning is shown with 2 minutes left
    When 2 more minutes pass
    Then I see the Sign In page, told I was logged out for inactivity

    Examples:
      | timeout |
      | 1 day   |
      | 7 days  |
