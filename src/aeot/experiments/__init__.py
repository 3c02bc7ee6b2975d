"""The papers' experiments over the library: :mod:`aeot.experiments.toy` (the 2-D table of Zhang
et al. (2019) §4, ``aeot toy``) and :mod:`aeot.experiments.reproduce` (the image tables, ``aeot
reproduce``; its table and grids are written by :mod:`aeot.experiments.reproduce_table`)."""
