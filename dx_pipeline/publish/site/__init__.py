"""The DX portal website: a static site per published revision, Vietnamese first with English.

Built from one revision folder by :func:`~dx_pipeline.publish.site.build.build_site`: a home
page, a ranking page per framework and peer group, a page per agency explaining every
indicator in plain words, the printable summary and the data files; checked by
:mod:`~dx_pipeline.publish.site.links` and served locally by :mod:`~dx_pipeline.publish.site.serve`.
Scoring and the appraisal workflow belong to the floors below.
"""
