"""`actas ingest`: read whole elections (folders, globs, multi-page PDFs) into an output directory, resumably.

`sources` lists the work (one item per acta, PDF pages included), `local` reads it in worker processes,
`remote` sends it to a running service, `store` keeps the output directory, `report` derives the CSV and
the summary, `run` ties them together behind a progress bar.
"""
