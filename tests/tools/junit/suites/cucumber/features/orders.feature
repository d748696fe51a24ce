Feature: Orders API

  Scenario: Health is UP
    When I get "/health"
    Then the status is 200

  Scenario: Order is cancelled
    When I get "/orders/1"
    Then the order status is "CANCELLED"

  Scenario: Reads the database
    When the database is read

  @skip
  Scenario: Refunds an order
    When I get "/refunds/1"
    Then the status is 200

  Scenario: Ships an order
    When the order is shipped

  Scenario: Flaky endpoint answers
    When I get "/flaky/cucumber-RUN"
    Then the status is 200

  Scenario Outline: Order lookups
    When I get "/orders/<id>"
    Then the status is <status>

    Examples: known orders
      | id | status |
      | 1  | 200    |
      | 2  | 500    |
