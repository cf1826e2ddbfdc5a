"""The base of every request and response model of the API.

``defer_build``: pydantic builds a model's validator and serializer the first time the model is
used rather than when its class is defined. A function defines the models of all its routes at
import, but a cold start serves one route; deferring keeps the others' building off the cold
start (``tests/bench/cold_start.py`` measures it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    model_config = ConfigDict(defer_build=True)
