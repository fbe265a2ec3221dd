"""The original's Sup-Walsh pretraining loop (ts_walsh_training.py + ts_walsh.py) for the Base model, timed.

Usage: torch_pretrain.py <pixels.u8> <labels.u8> <image_size> <steps> <warmup> <threads> <seed>

Written from the original's description, not copied: per step, a shuffled batch of 200 images (its DataLoader),
one random image of each class from it, scikit-learn's TSNE(n_components=2, perplexity=5).fit_transform (its
defaults otherwise: Barnes-Hut, learning rate 'auto', PCA init), the auxiliary net Linear 2->4->8->16, times the
class's Walsh code, Linear 16->H*W, the Base MLP (4096->640->320->50->10, ReLU, dropout, log-softmax as the
original's Net), CrossEntropyLoss, Adam 3e-5. Where the original pickles the model to disk on a new lowest loss,
this copies its state_dict in memory (what ours keeps). The images come from the Node side (the same preprocessed
64x64 bytes, raw 0-255 values as the original feeds them), so its per-step torchvision Resize of 200 images is not
timed on either side. Prints one JSON line: seconds of the timed steps, their t-SNE and network shares.
"""

import json
import sys
import time

import numpy as np
import sklearn
import torch
from sklearn.manifold import TSNE
from torch import nn

# The original's Walsh table (ts_walsh.py): class c's 16-long +-1 code.
WALSH = torch.tensor(
    [
        [1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1],
        [1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1],
        [1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1],
        [1, 1, 1, 1, -1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, -1],
        [1, -1, 1, -1, -1, 1, -1, 1, 1, -1, 1, -1, -1, 1, -1, 1],
        [1, 1, -1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, -1, 1, 1],
        [1, -1, -1, 1, -1, 1, 1, -1, 1, -1, -1, 1, -1, 1, 1, -1],
        [1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1],
        [1, -1, 1, -1, 1, -1, 1, -1, -1, 1, -1, 1, -1, 1, -1, 1],
        [1, 1, -1, -1, 1, 1, -1, -1, -1, -1, 1, 1, -1, -1, 1, 1],
    ],
    dtype=torch.float32,
)


class Aux(nn.Module):
    def __init__(self, pixels):
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(2, 4), nn.Linear(4, 8), nn.Linear(8, 16)
        self.out = nn.Linear(16, pixels)

    def forward(self, points, classes):
        return self.out(self.l3(self.l2(self.l1(points))) * WALSH[classes])


class Base(nn.Module):
    def __init__(self, pixels):
        super().__init__()
        self.fc = nn.ModuleList([nn.Linear(pixels, 640), nn.Linear(640, 320), nn.Linear(320, 50)])
        self.last = nn.Linear(50, 10)

    def forward(self, x):
        x = x.flatten(1)
        for layer in self.fc:
            x = torch.relu(layer(x))
        return torch.log_softmax(self.last(nn.functional.dropout(x, training=self.training)), -1)


def main():
    pixels_file, labels_file, size, steps, warmup, threads, seed = sys.argv[1:8]
    size, steps, warmup, threads, seed = int(size), int(steps), int(warmup), int(threads), int(seed)
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    labels = np.fromfile(labels_file, dtype=np.uint8)
    images = np.fromfile(pixels_file, dtype=np.uint8).reshape(len(labels), size * size)
    aux, base = Aux(size * size), Base(size * size)
    params = list(aux.parameters()) + list(base.parameters())
    optimizer = torch.optim.Adam(params, lr=3e-5)
    criterion = nn.CrossEntropyLoss()
    classes = torch.arange(10)
    order, at = rng.permutation(len(labels)), 0
    best, snapshot = float("inf"), None
    tsne_s = net_s = 0.0
    for step in range(warmup + steps):
        if step == warmup:
            started, cpu_started, tsne_s, net_s = time.perf_counter(), time.process_time(), 0.0, 0.0
        if at + 200 > len(order):
            order, at = rng.permutation(len(labels)), 0
        batch = order[at : at + 200]
        at += 200
        picked = [rng.choice(batch[labels[batch] == c]) for c in range(10)]
        t0 = time.perf_counter()
        points = TSNE(n_components=2, perplexity=5).fit_transform(images[picked].astype(np.float32))
        t1 = time.perf_counter()
        optimizer.zero_grad()
        loss = criterion(base(aux(torch.from_numpy(points), classes).view(10, 1, size, size)), classes)
        value = loss.item()
        if value < best:
            best, snapshot = value, {k: t.clone() for k, t in base.state_dict().items()}
        loss.backward()
        optimizer.step()
        net_s += time.perf_counter() - t1
        tsne_s += t1 - t0
    seconds = time.perf_counter() - started
    # CPU seconds of every thread of this process: on a shared machine the steadier figure for one thread.
    cpu_seconds = time.process_time() - cpu_started
    print(
        json.dumps(
            {
                "ok": True,
                "seconds": seconds,
                "cpuSeconds": cpu_seconds,
                "tsneSeconds": tsne_s,
                "networkSeconds": net_s,
                "steps": steps,
                "finalLoss": value,
                "snapshotTensors": len(snapshot or {}),
                "torch": torch.__version__,
                "sklearn": sklearn.__version__,
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
