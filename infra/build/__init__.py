"""Steps of the deployable build that ``sam build`` does not take itself (``make build``)."""
