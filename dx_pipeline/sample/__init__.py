"""The embedded sample province (Tỉnh Mẫu / Sample Province).

Generates, deterministically from a seed, the raw inputs a real province would hand the
pipeline: the agency registry, portal dossier exports, agency submissions (inbox files and a
reporting database) with a few planted defects listed in ``sample/defects.json``. Importing
this package has no side effects; call :func:`dx_pipeline.sample.generate.generate_sample`.
"""
