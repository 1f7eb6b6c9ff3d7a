"""``python -m benchmark serve RUN_DIR``: a saved classifier behind HTTP (needs ``sentibench[serve]``).

``settings`` (what it is told, without the web stack), ``batching`` (micro-batching), ``model``
(the saved classifier), ``app`` (FastAPI), ``metrics``, ``page``, ``run`` (uvicorn), ``loadtest``.
"""
