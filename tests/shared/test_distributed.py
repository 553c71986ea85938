"""Two gloo processes on CPU: loss and gradients equal the single-process loss on the
concatenated batch."""

import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from shared.distributed import all_gather_with_grad, rank, world_size
from shared.losses import nt_xent

N, D, T = 4, 6, 0.3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(r: int, world: int, port: int, z1_all, z2_all, out):
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=r, world_size=world)
    try:
        torch.set_num_threads(1)
        z1 = z1_all[r * N : (r + 1) * N].clone().requires_grad_()
        z2 = z2_all[r * N : (r + 1) * N].clone().requires_grad_()
        loss = nt_xent(z1, z2, T, gather_distributed=True)
        loss.backward()
        gathered = all_gather_with_grad(z1.detach())
        out[r] = (loss.detach(), z1.grad / world_size(), z2.grad / world_size(), rank(), gathered)
    finally:
        dist.destroy_process_group()


def test_two_process_gloo_equals_single_process_on_concatenated_batch():
    torch.manual_seed(0)
    z1_all, z2_all = torch.randn(2 * N, D), torch.randn(2 * N, D)
    manager = mp.Manager()
    out = manager.dict()
    mp.start_processes(
        _worker, args=(2, _free_port(), z1_all, z2_all, out), nprocs=2, start_method="spawn"
    )
    a, b = z1_all.clone().requires_grad_(), z2_all.clone().requires_grad_()
    single = nt_xent(a, b, T)
    single.backward()
    mean_loss = (out[0][0] + out[1][0]) / 2
    torch.testing.assert_close(mean_loss, single.detach())
    for r in (0, 1):
        assert out[r][3] == r
        torch.testing.assert_close(out[r][1], a.grad[r * N : (r + 1) * N])
        torch.testing.assert_close(out[r][2], b.grad[r * N : (r + 1) * N])
        torch.testing.assert_close(out[r][4], z1_all)  # rank order of the gathered rows


def test_identity_without_process_group():
    x = torch.randn(3, 2)
    assert all_gather_with_grad(x) is x and world_size() == 1 and rank() == 0
