"""Data that is loaded rather than typed: the default taxonomy, partners and routing rules
(``defaults/*.toml``, applied by ``seed``), demo reports (``demo``) and police.uk imports
(``police``)."""
