import torch, genzoo
torch.manual_seed(0)
images = torch.rand(96, 1, 28, 28)
out = {}
for name, kw in [("gan", dict(generator_widths=(16, 32, 32, 64), discriminator_widths=(32, 16), ema=0.9)),
                 ("dcgan", dict(channels=4, latent_dim=8, ema=0.99, d_steps=2))]:
    m = genzoo.build(name, seed=0, **kw)
    m.fit([images[i:i+32] for i in range(0, 96, 32)], epochs=2, seed=3, progress=False)
    s = m.sample(4, seed=1)
    sd = {k: v for k, v in m.state_dict().items() if k.startswith("ema_generator.")}
    out[name] = {"samples": s, "ema": sd}
torch.save(out, "/tmp/gan_ema_reference.pt")
for k, v in out.items(): print(k, v["samples"].sum().item(), sum(t.double().sum().item() for t in v["ema"].values()))
