"""The bridge demonstrations, one module per objective, each with ``run(quick, seed)``.

Each ``run`` returns a JSON-serialisable dict with the measured numbers (``metrics``), the
baseline, whether the paper's claim held on this data (``claim_holds``) and a one-line
``summary``. ``experiments/bridge_demos.py`` runs them and writes the report; the tests run
cut-down versions. Importing this package imports no demo (and so no scikit-learn).
"""

DEMOS = ("simclr", "crd", "crd_transfer", "crd_classes", "crossclr", "global_local", "stor", "long_short", "cbt", "nerv", "nerv_long")
