import pytest
import torch
from threadpoolctl import threadpool_limits

# one BLAS/OpenMP thread: the machine's cores are shared, and oversubscribed BLAS threads in
# scikit-learn's solvers slow the probe tests down by two orders of magnitude
threadpool_limits(1)


@pytest.fixture(autouse=True)
def _one_thread_and_seed():
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
