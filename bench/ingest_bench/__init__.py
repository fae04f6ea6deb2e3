"""The pieces of ``bench/parse_bench.py``: input, commands, measuring, counts, summary, rendering.

``parse_bench.py`` is the command (run as a script, so this folder is imported from ``bench/``);
nothing here is part of the project's code, and the project never imports it.
"""
