"""Orders: checkout, reads, cancellation, fulfilment and returns (the OrdersFunction's services)."""
