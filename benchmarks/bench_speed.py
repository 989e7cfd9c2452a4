"""The chapter's learning speed (see ``common.py``)."""
from .common import DEEP, IMPLS, Benchmark, learning_speed_workload


class TimeLearningSpeed(Benchmark):
    """The chapter's learning speed: ``mean_nabla_b`` on 1,000 images."""
    params, param_names = (DEEP, IMPLS), ["sizes", "impl"]
    factory = learning_speed_workload

    def time_mean_nabla_b(self, sizes, impl):
        self.run()
