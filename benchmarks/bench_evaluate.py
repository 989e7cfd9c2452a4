"""Accuracy and cost of the validation images (see ``common.py``)."""
from .common import IMPLS, Benchmark, evaluate_workload


class TimeEvaluate(Benchmark):
    """Accuracy and cost of the 10,000 validation images."""
    params, param_names = (["784-30-10", "784-30-30-30-30-10"], IMPLS), ["sizes", "impl"]
    factory = evaluate_workload

    def time_evaluate(self, sizes, impl):
        self.run()
