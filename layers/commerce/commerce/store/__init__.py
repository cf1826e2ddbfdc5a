"""DynamoDB storage: PynamoDB models and repositories, the only code that knows table layouts."""
