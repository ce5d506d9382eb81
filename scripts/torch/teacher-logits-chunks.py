"""Times the teacher-logits pass of ../shared/anchors/torch_fashion_kd.py --cache-teacher (the CNN
teacher over the 60,000 training images, under no_grad) at several chunk sizes: the anchor uses
chunks of 1000, which PyTorch's CPU convolution runs far slower per image than chunks of 128 on
some machines, and that pass is part of the anchor's KD-phase time. The teacher is untrained
(its weights do not change the time). Prints one line per chunk size.
usage: python3 scripts/torch/teacher-logits-chunks.py [--anchor PATH] [--threads 2] [--chunks 128,256,1000]"""
import argparse, os, sys, time

here = os.path.dirname(os.path.abspath(__file__))
p = argparse.ArgumentParser()
p.add_argument('--anchor', default=os.path.join(here, '..', '..', '..', 'shared', 'anchors', 'torch_fashion_kd.py'))
p.add_argument('--threads', default='2')
p.add_argument('--chunks', default='128,256,1000')
args = p.parse_args()

import torch

# The anchor's own data loading and teacher definition, without its training.
sys.argv = ['anchor', '--threads', args.threads]
source = open(args.anchor).read().split('tt = train(teacher')[0]
scope = {}
exec(compile(source, args.anchor, 'exec'), scope)
teacher, Xtr = scope['teacher'], scope['Xtr']
teacher.eval()
for chunk in (int(c) for c in args.chunks.split(',')):
    start = time.time()
    with torch.no_grad():
        torch.cat([teacher(Xtr[i:i + chunk]) for i in range(0, len(Xtr), chunk)])
    print(f'chunk {chunk}: {time.time() - start:.1f} s for {len(Xtr)} images ({torch.get_num_threads()} threads, torch {torch.__version__})')
