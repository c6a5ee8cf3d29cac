"""The PDF report of an experiment, read back from MLflow (its API only; nothing here
imports the training code).

- ``collect``: an experiment's runs into sections of comparable runs
- ``summary``: the numbers of a section (one row per method) and what they mean
- ``pdf``: the pages
- ``write``: the generator (:func:`.write.generate_report`) and its output path
"""
