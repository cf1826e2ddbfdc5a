"""Cart use cases: carts for guests and customers, stock holds, and the sweeper that ends them."""
