"""Applications over finished runs: ``report``, ``export`` (NIR), ``summary`` (model summary) and
``reproduce`` (the papers' experiments). Imports from every layer below.
"""
