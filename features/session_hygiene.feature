Feature: What the browser keeps, and what another site can do
  As a clinic's privacy officer
  I want patient pages never stored, session cookies out of scripts' and other sites' reach, and sessions that nobody else can plant or end
  So that a shared computer, a proxy or a malicious page cannot open or keep open someone's patient records

  @no_store
  Scenario: The patient list is never stored by the browser or a proxy
    Given I am signed in on my computer
    Then the server tells browsers and proxies never to store the patient list

  Scenario: The session cookie is out of reach of the page's scripts and of other sites
    Given I am signed in on my computer
    Then my session cookie cannot be read by scripts and is not sent with other sites' requests

  Scenario: A session id planted before I sign in never becomes my session
    Given someone planted a session cookie in the browser of my computer
    When I sign in on my computer
    Then my session cookie is not the planted one
    And the planted session cookie does not open the patient list

  @logout
  Scenario: Another site cannot log me out with a forged form
    Given I am signed in on my computer
    When another site makes my browser post to the logout address without the page's token
    Then I am still signed in

  @clear_site_data
  Scenario: Logging out tells the browser to clear what it kept of the site
    Given I am signed in on my computer
    When I click "Log out" in the header
    Then the logout answer told the browser to clear its cache and storage for the site

  @eviction @status_oracle
  Scenario: Eight sign-ins of one user at the same moment leave exactly the allowed sessions
    Given I am signed in on my computer
    When I sign in 8 times at the same moment from other computers
    Then exactly 1 of my sessions is active
    When I sign in 8 times at the same moment from other computers
    Then exactly 1 of my sessions is active
    When I sign in 8 times at the same moment from other computers
    Then exactly 1 of my sessions is active

  Scenario: A session id planted while the Sign In page is open never becomes my session
    Given the Sign In page is open on my computer
    And someone planted a session cookie in the browser of my computer
    When I submit my email and password
    Then my session cookie is not the planted one
    And the planted session cookie does not open the patient list

  Scenario: Another site cannot sign my browser in as someone else
    Given another site shows a form that signs this browser in as my colleague
    When I open that page and press its button
    Then my browser is not signed in as my colleague

  @session_api @clock @deadlines
  Scenario Outline: Another site cannot <ask> for me
    Given I am signed in on my computer
    When 10 minutes pass without activity
    And another site makes my browser <ask> without the page's token
    Then the server refuses it as forbidden
    And the server says my session ends in 20 minutes

    Examples:
      | ask                     |
      | report activity         |
      | answer "Stay Logged In" |

  @admin_api @session_api
  Scenario: Another site cannot change my clinic's automatic logout through my browser
    Given I am the clinic's admin
    And I am signed in on my computer
    When another site makes my browser set the clinic's automatic logout to 10080 minutes without the page's token
    Then the server refuses it as forbidden
    And the automatic logout is still "30 minutes"
