"""How the system is stood up: the local stack lives in infra.local."""
