#!/usr/bin/python3
"""Reference runs for the PyTorch-sourced models (parity with facelib).

The architectures are written out here as PyTorch modules and the original
files are loaded as their authors load them (torch.load for the checkpoints,
joblib / numpy for ipazc's MTCNN arrays, run the way ipazc's Keras code runs
them). Inputs and outputs are NHWC .npy files, like facelib-run's.

  ref_torch.py inputs IMAGE OUT_DIR          write the input tensors of every model
  ref_torch.py run MODEL SHARED IN.npy OUT_DIR   write MODEL's outputs
  ref_torch.py bench MODEL SHARED IN.npy THREADS REPEAT   print the median ms
  ref_torch.py zip SRC.pt DST.pt             re-save a checkpoint in the zip format
"""
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_grad_enabled(False)


# ---------------------------------------------------------------- MTCNN
class PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, 3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, 3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, 3), nn.PReLU(32)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return {"prob": F.softmax(self.conv4_1(x), dim=1), "bbox_reg": self.conv4_2(x)}


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, 3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, 3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, 2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)
        self.flatten_order = (0, 3, 2, 1)  # [N, W, H, C], the Caffe/Keras order

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x))
        x = x.permute(*self.flatten_order).reshape(x.shape[0], -1)
        x = self.prelu4(self.dense4(x))
        return {"prob": F.softmax(self.dense5_1(x), dim=1), "bbox_reg": self.dense5_2(x)}


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, 3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, 3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, 3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, 2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)
        self.flatten_order = (0, 3, 2, 1)

    def forward(self, x):
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x))
        x = x.permute(*self.flatten_order).reshape(x.shape[0], -1)
        x = self.prelu5(self.dense5(x))
        return {"prob": F.softmax(self.dense6_1(x), dim=1), "bbox_reg": self.dense6_2(x),
                "landmarks": self.dense6_3(x)}


MTCNN_CLASSES = {"pnet": PNet, "rnet": RNet, "onet": ONet}
# Position of each parameter in ipazc's joblib lists (Keras layer order).
IPAZC_LZ4_ORDER = {
    "pnet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4_2", "conv4_1"],
    "rnet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "dense4", "prelu4", "dense5_2", "dense5_1"],
    "onet": ["conv1", "prelu1", "conv2", "prelu2", "conv3", "prelu3", "conv4", "prelu4", "dense5", "prelu5",
             "dense6_2", "dense6_3", "dense6_1"],
}
# mtcnn_weights.npy layer names.
IPAZC_NPY_NAMES = {"conv4_1": "conv4-1", "conv4_2": "conv4-2", "dense4": "fc1", "dense5": "fc1",
                   "dense5_1": "fc2-1", "dense5_2": "fc2-2", "dense6_1": "fc2-1", "dense6_2": "fc2-2",
                   "dense6_3": "fc2-3"}


def keras_to_torch(net, arrays):
    """Keras layers (conv HWIO, PReLU alpha, dense [in, out]) into our module."""
    sd = {}
    for name, (kernel, bias) in arrays.items():
        if name.startswith("prelu"):
            sd[name + ".weight"] = torch.from_numpy(np.ascontiguousarray(kernel.reshape(-1)))
        elif name.startswith("conv"):
            sd[name + ".weight"] = torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1)))
            sd[name + ".bias"] = torch.from_numpy(bias)
        else:
            sd[name + ".weight"] = torch.from_numpy(np.ascontiguousarray(kernel.T))
            sd[name + ".bias"] = torch.from_numpy(bias)
    net.load_state_dict(sd, strict=True)
    return net


def load_mtcnn(which, source, shared):
    """source: lz4 (mtcnn >= 1.0), npy (mtcnn < 1.0, transposed image), pt (facenet-pytorch)."""
    net = MTCNN_CLASSES[which]().eval()
    if source == "pt":
        net.load_state_dict(torch.load(f"{shared}/mtcnn_facenet_pytorch/{which}.pt", map_location="cpu"), strict=True)
        return net, False
    if source == "lz4":
        import joblib
        lst = joblib.load(f"{shared}/mtcnn_ipazc/{which}.lz4")
        arrays, i = {}, 0
        for name in IPAZC_LZ4_ORDER[which]:
            if name.startswith("prelu"):
                arrays[name] = (lst[i], None)
                i += 1
            else:
                arrays[name] = (lst[i], lst[i + 1])
                i += 2
        assert i == len(lst)
        return keras_to_torch(net, arrays), False
    d = np.load(f"{shared}/mtcnn_ipazc/mtcnn_weights.npy", allow_pickle=True).item()
    layers = d[{"pnet": "PNet", "rnet": "RNet", "onet": "ONet"}[which]]
    arrays = {}
    for name in IPAZC_LZ4_ORDER[which]:
        layer = layers[IPAZC_NPY_NAMES.get(name, name)]
        arrays[name] = (layer["alpha"], None) if name.startswith("prelu") else (layer["weights"], layer["biases"])
    net = keras_to_torch(net, arrays)
    # The old TF graph flattened the activation of the transposed image in
    # NHWC order; on our NCHW tensor of that image this is permute(0, 2, 3, 1).
    net.flatten_order = (0, 2, 3, 1)
    return net, True


# ---------------------------------------------------------------- MiniFASNet
class ConvBlock(nn.Module):
    def __init__(self, cin, cout, k=1, s=1, p=0, groups=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, s, p, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        if act:
            self.prelu = nn.PReLU(cout)
        self.act = act

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.prelu(x) if self.act else x


class SEModule(nn.Module):
    def __init__(self, c, mid):
        super().__init__()
        self.fc1 = nn.Conv2d(c, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.fc2 = nn.Conv2d(mid, c, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        s = torch.sigmoid(self.bn2(self.fc2(F.relu(self.bn1(self.fc1(s))))))
        return x * s


class DepthWise(nn.Module):
    def __init__(self, cin, mid, cout, stride, residual, se_mid=0):
        super().__init__()
        self.conv = ConvBlock(cin, mid)
        self.conv_dw = ConvBlock(mid, mid, 3, stride, 1, groups=mid)
        self.project = ConvBlock(mid, cout, act=False)
        if se_mid:
            self.se_module = SEModule(cout, se_mid)
        self.residual, self.se = residual, bool(se_mid)

    def forward(self, x):
        y = self.project(self.conv_dw(self.conv(x)))
        if self.se:
            y = self.se_module(y)
        return x + y if self.residual else y


class Residual(nn.Module):
    def __init__(self, blocks):
        super().__init__()
        self.model = nn.Sequential(*blocks)

    def forward(self, x):
        return self.model(x)


class MiniFASNet(nn.Module):
    """MiniFASNetV2 / V1SE: the pruned widths ("keep" lists) are read from the
    checkpoint's shapes; SE blocks exist where the checkpoint has them."""

    def __init__(self, sd):
        super().__init__()
        ch = lambda k: sd[k].shape[0]
        self.conv1 = ConvBlock(3, ch("conv1.conv.weight"), 3, 2, 1)
        c = ch("conv1.conv.weight")
        self.conv2_dw = ConvBlock(c, c, 3, 1, 1, groups=c)

        def dw(p, cin, stride, residual):
            mid, cout = ch(p + ".conv.conv.weight"), ch(p + ".project.conv.weight")
            se = ch(p + ".se_module.fc1.weight") if p + ".se_module.fc1.weight" in sd else 0
            return DepthWise(cin, mid, cout, stride, residual, se), cout

        def res(p, cin):
            blocks, i = [], 0
            while f"{p}.model.{i}.conv.conv.weight" in sd:
                b, cin = dw(f"{p}.model.{i}", cin, 1, True)
                blocks.append(b)
                i += 1
            return Residual(blocks), cin

        self.conv_23, c = dw("conv_23", c, 2, False)
        self.conv_3, c = res("conv_3", c)
        self.conv_34, c = dw("conv_34", c, 2, False)
        self.conv_4, c = res("conv_4", c)
        self.conv_45, c = dw("conv_45", c, 2, False)
        self.conv_5, c = res("conv_5", c)
        self.conv_6_sep = ConvBlock(c, ch("conv_6_sep.conv.weight"))
        c = ch("conv_6_sep.conv.weight")
        k = sd["conv_6_dw.conv.weight"].shape[2]
        self.conv_6_dw = ConvBlock(c, c, k, 1, 0, groups=c, act=False)
        self.linear = nn.Linear(c, ch("linear.weight"), bias=False)
        self.bn = nn.BatchNorm1d(ch("linear.weight"))
        self.prob = nn.Linear(ch("linear.weight"), ch("prob.weight"), bias=False)

    def forward(self, x):
        x = self.conv2_dw(self.conv1(x))
        x = self.conv_5(self.conv_45(self.conv_4(self.conv_34(self.conv_3(self.conv_23(x))))))
        x = self.conv_6_dw(self.conv_6_sep(x))
        x = self.bn(self.linear(torch.flatten(x, 1)))
        logits = self.prob(x)
        return {"logits": logits, "probs": F.softmax(logits, dim=1)}


def load_minifasnet(file, shared):
    sd = torch.load(f"{shared}/minifasnet/{file}", map_location="cpu")
    sd = {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}
    net = MiniFASNet(sd).eval()
    net.load_state_dict(sd, strict=True)
    return net


# ---------------------------------------------------------------- RetinaFace
# Final_Retinaface.pth is from the first release: ReLU (LeakyReLU slope 0) throughout.
LEAK = 0.0


def conv_bn(cin, cout, stride=1, leaky=0.0, k=3, pad=1, act=True):
    layers = [nn.Conv2d(cin, cout, k, stride, pad, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.LeakyReLU(leaky))
    return nn.Sequential(*layers)


def conv_dw(cin, cout, stride, leaky=LEAK):
    return nn.Sequential(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                         nn.LeakyReLU(leaky), nn.Conv2d(cin, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout),
                         nn.LeakyReLU(leaky))


class Body(nn.Module):
    def __init__(self):
        super().__init__()
        self.stage1 = nn.Sequential(conv_bn(3, 8, 2, LEAK), conv_dw(8, 16, 1), conv_dw(16, 32, 2), conv_dw(32, 32, 1),
                                    conv_dw(32, 64, 2), conv_dw(64, 64, 1))
        self.stage2 = nn.Sequential(conv_dw(64, 128, 2), *[conv_dw(128, 128, 1) for _ in range(5)])
        self.stage3 = nn.Sequential(conv_dw(128, 256, 2), conv_dw(256, 256, 1))


class FPN(nn.Module):
    def __init__(self):
        super().__init__()
        self.output1 = conv_bn(64, 64, 1, LEAK, k=1, pad=0)
        self.output2 = conv_bn(128, 64, 1, LEAK, k=1, pad=0)
        self.output3 = conv_bn(256, 64, 1, LEAK, k=1, pad=0)
        self.merge1 = conv_bn(64, 64, 1, LEAK)
        self.merge2 = conv_bn(64, 64, 1, LEAK)

    def forward(self, c8, c16, c32):
        o1, o2, o3 = self.output1(c8), self.output2(c16), self.output3(c32)
        o2 = self.merge2(o2 + F.interpolate(o3, size=o2.shape[2:], mode="nearest"))
        o1 = self.merge1(o1 + F.interpolate(o2, size=o1.shape[2:], mode="nearest"))
        return o1, o2, o3


class SSH(nn.Module):
    def __init__(self, c=64):
        super().__init__()
        self.conv3X3 = conv_bn(c, c // 2, act=False)
        self.conv5X5_1 = conv_bn(c, c // 4, leaky=LEAK)
        self.conv5X5_2 = conv_bn(c // 4, c // 4, act=False)
        self.conv7X7_2 = conv_bn(c // 4, c // 4, leaky=LEAK)
        self.conv7x7_3 = conv_bn(c // 4, c // 4, act=False)

    def forward(self, x):
        b = self.conv5X5_1(x)
        return F.relu(torch.cat([self.conv3X3(x), self.conv5X5_2(b), self.conv7x7_3(self.conv7X7_2(b))], 1))


class Head(nn.Module):
    def __init__(self, k, anchors=2):
        super().__init__()
        self.conv1x1 = nn.Conv2d(64, anchors * k, 1)
        self.k = k

    def forward(self, x):
        return self.conv1x1(x).permute(0, 2, 3, 1).reshape(x.shape[0], -1, self.k)


class RetinaFace(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.fpn = Body(), FPN()
        self.ssh1, self.ssh2, self.ssh3 = SSH(), SSH(), SSH()
        self.ClassHead = nn.ModuleList([Head(2) for _ in range(3)])
        self.BboxHead = nn.ModuleList([Head(4) for _ in range(3)])
        self.LandmarkHead = nn.ModuleList([Head(10) for _ in range(3)])

    def forward(self, x):
        c8 = self.body.stage1(x)
        c16 = self.body.stage2(c8)
        c32 = self.body.stage3(c16)
        feats = [s(f) for s, f in zip((self.ssh1, self.ssh2, self.ssh3), self.fpn(c8, c16, c32))]
        cat = lambda heads: torch.cat([h(f) for h, f in zip(heads, feats)], 1)
        return {"loc": cat(self.BboxHead), "conf": F.softmax(cat(self.ClassHead), dim=-1),
                "landms": cat(self.LandmarkHead)}


def load_retinaface(shared):
    sd = torch.load(f"{shared}/retinaface_biubug6/Final_Retinaface.pth", map_location="cpu")
    sd = {k[7:] if k.startswith("module.") else k: v for k, v in sd.items()}
    net = RetinaFace().eval()
    net.load_state_dict(sd, strict=True)
    return net


# ---------------------------------------------------------------- driver
def load(model, shared):
    """Returns (module, transposed_input)."""
    if model.startswith("mtcnn_"):
        parts = model.split("_")  # mtcnn_pnet, mtcnn_pnet_npy, mtcnn_pnet_pt, mtcnn_pnet_zip
        source = parts[2] if len(parts) > 2 else "lz4"
        return load_mtcnn(parts[1], "pt" if source == "zip" else source, shared)
    if model == "minifasnet_v2":
        return load_minifasnet("2.7_80x80_MiniFASNetV2.pth", shared), False
    if model == "minifasnet_v1se":
        return load_minifasnet("4_0_0_80x80_MiniFASNetV1SE.pth", shared), False
    if model == "retinaface_mnet025_torch":
        return load_retinaface(shared), False
    raise SystemExit(f"unknown model {model}")


def run(net, transposed, nhwc):
    # NHWC -> NCHW; ipazc's old nets took the image transposed (H <-> W).
    x = torch.from_numpy(nhwc).permute(0, 3, 2, 1) if transposed else torch.from_numpy(nhwc).permute(0, 3, 1, 2)
    out = net(x.contiguous())
    res = {}
    for k, v in out.items():
        v = v.numpy()
        if v.ndim == 4:  # maps back to NHWC (and upright)
            v = v.transpose(0, 3, 2, 1) if transposed else v.transpose(0, 2, 3, 1)
        res[k] = np.ascontiguousarray(v, dtype=np.float32)
    return res


def make_inputs(image, out_dir):
    from PIL import Image
    img = Image.open(image).convert("RGB")
    w, h = img.size
    side = min(w, h)
    square = img.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))

    def arr(im):
        return np.asarray(im, dtype=np.float32)

    mtcnn = lambda a: (a - 127.5) * 0.0078125
    inputs = {
        # Odd sizes exercise the ceil-mode pooling of P-Net.
        "mtcnn_pnet": mtcnn(arr(img.resize((383, 287), Image.BILINEAR))),
        "mtcnn_rnet": mtcnn(arr(square.resize((24, 24), Image.BILINEAR))),
        "mtcnn_onet": mtcnn(arr(square.resize((48, 48), Image.BILINEAR))),
        "minifasnet": arr(square.resize((80, 80), Image.BILINEAR))[..., ::-1],  # BGR, 0..255
        # Not a multiple of 32: the FPN upsampling must follow the lateral branch sizes.
        "retinaface": arr(img.resize((373, 301), Image.BILINEAR))[..., ::-1] - np.array([104, 117, 123], np.float32),
    }
    for name, a in inputs.items():
        np.save(f"{out_dir}/{name}.npy", np.ascontiguousarray(a[None], dtype=np.float32))


def main():
    cmd = sys.argv[1]
    if cmd == "inputs":
        make_inputs(sys.argv[2], sys.argv[3])
    elif cmd == "run":
        model, shared, inp, out_dir = sys.argv[2:6]
        net, transposed = load(model, shared)
        for k, v in run(net, transposed, np.load(inp)).items():
            np.save(f"{out_dir}/{k}.npy", v)
    elif cmd == "bench":
        model, shared, inp, threads, repeat = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
        torch.set_num_threads(threads)
        net, transposed = load(model, shared)
        x = np.load(inp)
        run(net, transposed, x)  # warm-up
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            run(net, transposed, x)
            times.append((time.perf_counter() - t0) * 1000)
        print(f"{statistics.median(times):.3f}")
    elif cmd == "zip":
        sd = torch.load(sys.argv[2], map_location="cpu")
        torch.save(sd, sys.argv[3], _use_new_zipfile_serialization=True)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
