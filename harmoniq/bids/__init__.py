"""BIDS datasets: names and folders (:mod:`.layout`), dataset files and tables (:mod:`.dataset`)."""
