"""Event streams and online pattern discovery: events, sources, detectors, the engine and its spool.

A source (``sources/*.yaml``) sends events; each event is validated (:mod:`.events`), prepared
(:mod:`.preprocess`) and passed through that source's detectors (:mod:`.anomaly`, :mod:`.drift`,
:mod:`.clusters`) by the :mod:`.engine`; findings are pattern events (:mod:`.patterns`) kept with the
events in the spool (:mod:`.store`). People's feedback (:mod:`.feedback`) moves the source's thresholds.
"""
