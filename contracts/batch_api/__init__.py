"""A stateful local Batch API (Files + Batches) for tests and the benchmark.

The public surface is re-exported once, by ``contracts/batch_api_server.py``. Inside:

- ``wire``: the three URL layouts, ids, errors in the wire's error shape.
- ``multipart``: a streaming ``multipart/form-data`` reader (uploads go to disk).
- ``files``: stored files and the check of an input file's lines.
- ``answers``: the generated answer of each request, keyed by its ``custom_id``.
- ``lifecycle``: one batch's states, advanced by polls, and its output files.
- ``server``: the HTTP server, routing, auth and the request log.
"""
