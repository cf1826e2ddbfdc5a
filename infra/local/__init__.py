"""The local stack: the whole API from template.yaml, with no AWS account and no Docker.

DynamoDB Local holds the tables, an embedded moto server the queues, topics, mail, SMS, the user
pool and schedules; an HTTP gateway turns requests into API Gateway proxy events for handler
workers that load each function as Lambda would.
"""
