"""The store's tables: one module per DynamoDB table, its base model and every item shape in it.

Several item shapes share each table (single-table design), so each model subclasses its
table's base, which names the table, and inherits its ``Meta`` (PynamoDB looks ``Meta`` up on
the class like any attribute, and fills in its connection defaults once, where ``Meta`` is
written). The bases have no keys or attributes of their own and are never read or written
themselves. Shapes shared by several tables (money, the ``gsi1`` index) are in ``attributes``.

Table names and the region come from settings; the endpoint does not: botocore honours
``AWS_ENDPOINT_URL_DYNAMODB``, so the same code talks to AWS, DynamoDB Local or moto. Reading
and writing the items is the job of the repositories beside this package (``store/carts.py``
and the rest), each the one writer of its item kinds.
"""
