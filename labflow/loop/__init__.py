"""The labelling loop: iterations of label → train → infer → pre-annotate → review.

Plain modules, no Dagster/FastAPI/Gradio: :mod:`~labflow.loop.iterations` (the state machine in the
catalog), :mod:`~labflow.loop.windows` (sliding windows with features), :mod:`~labflow.loop.training_set`,
:mod:`~labflow.loop.model` (LightGBM), :mod:`~labflow.loop.inference`, :mod:`~labflow.loop.metrics`,
:mod:`~labflow.loop.active_learning`, :mod:`~labflow.loop.preannotations`, :mod:`~labflow.loop.automation`
and :mod:`~labflow.loop.runner` (one whole iteration, as the benchmark and tests drive it).
"""
