# Motion: FST (or precomputed masks) per video, shot pruning, sampling of training frames, J/F
# of the motion stage, figures of FST's stages.


rule motion_segment:
    input:
        index=ancient(f"{RESULTS}/index/{{dataset}}.shots.csv"),
    output:
        f"{RESULTS}/motion/{{dataset}}/{{video}}.h5",
    log:
        f"{LOGS}/motion/{{dataset}}/{{video}}.log",
    benchmark:
        f"{BENCHMARKS}/motion/{{dataset}}/{{video}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=120,
    params:
        settings=as_json(motion_step_settings()),
        seed=config["seed"],
        video_rows=video_rows,
    shell:
        "python -m mcnn motion-segment --index {input.index:q} --video {wildcards.video}"
        " --params {params.settings:q} --seed {params.seed} --output {output:q} > {log:q} 2>&1"


rule prune_shots:
    input:
        motion=motion_files,
    output:
        f"{RESULTS}/shots/{{dataset}}.pruned.csv",
    log:
        f"{LOGS}/prune/{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/prune/{{dataset}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        settings=as_json(config["shots"]["prune"]),
    shell:
        "python -m mcnn prune-shots --motion {input.motion:q} --params {params.settings:q}"
        " --output {output:q} > {log:q} 2>&1"


rule sample_frames:
    input:
        index=f"{RESULTS}/index/{{dataset}}.shots.csv",
        pruned=f"{RESULTS}/shots/{{dataset}}.pruned.csv",
        motion=motion_files,
    output:
        f"{RESULTS}/samples/{{dataset}}.h5",
    log:
        f"{LOGS}/sample/{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/sample/{{dataset}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        settings=as_json(config["shots"]["sample"]),
        motion_dir=f"{RESULTS}/motion/{{dataset}}",
    shell:
        "python -m mcnn sample-frames --index {input.index:q} --pruned {input.pruned:q}"
        " --motion-dir {params.motion_dir:q} --params {params.settings:q} --output {output:q}"
        " > {log:q} 2>&1"


rule evaluate_motion:
    input:
        index=f"{RESULTS}/index/{{dataset}}.shots.csv",
        motion=motion_files,
    output:
        table=f"{RESULTS}/eval/motion/{{dataset}}.csv",
        summary=f"{RESULTS}/eval/motion/{{dataset}}.json",
    log:
        f"{LOGS}/eval_motion/{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/eval_motion/{{dataset}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    shell:
        "python -m mcnn evaluate-motion --index {input.index:q} --motion {input.motion:q}"
        " --output {output.table:q} --summary {output.summary:q} > {log:q} 2>&1"


rule motion_figures:
    input:
        index=f"{RESULTS}/index/{{dataset}}.shots.csv",
    output:
        f"{RESULTS}/figures/motion/{{dataset}}/{{video}}.png",
    log:
        f"{LOGS}/motion_figures/{{dataset}}/{{video}}.log",
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    params:
        settings=as_json({key: config["motion"][key] for key in FST_SETTINGS}),
        frames=config["motion"]["figures"]["frames"],
        seed=config["seed"],
    shell:
        "python -m mcnn motion-figures --index {input.index:q} --video {wildcards.video}"
        " --params {params.settings:q} --frames {params.frames} --seed {params.seed}"
        " --output {output:q} > {log:q} 2>&1"
