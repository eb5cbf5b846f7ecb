"""Where a report goes and why: the routing table as data (``rules``), the decision for one report
(``decide``), the worker's batched path (``processing``), re-routing after rule changes, locating
reports that could not be placed, and their admin pages and command line."""
