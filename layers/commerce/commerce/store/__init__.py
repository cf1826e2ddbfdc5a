"""Storage: PynamoDB models and repositories, the only code that knows table layouts, and the
SNS platform endpoints devices are published to (``endpoints``)."""
