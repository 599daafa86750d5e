# Evaluation: VOC IoU per trained model and the paper's tables, co-localization (CorLoc),
# qualitative figures, and segmentation of the user's own images or video.


rule evaluate_voc:
    input:
        model=lambda w: variant_model(w.variant, w.fov, w.seed),
        index=image_index,
    output:
        f"{RESULTS}/eval/voc/{{variant}}-{{fov}}-s{{seed}}.json",
    log:
        f"{LOGS}/eval_voc/{{variant}}-{{fov}}-s{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/eval_voc/{{variant}}-{{fov}}-s{{seed}}.tsv"
    conda:
        ENV
    threads: config["resources"]["threads"]
    resources:
        gpu=JOB_GPUS,
        allow_cpu=ALLOW_CPU,
        mem_mb=config["resources"]["mem_mb"],
        runtime=config["resources"]["runtime"],
    params:
        settings=EVALUATE_VOC,
        split=config["evaluate"]["split"],
        gpus=JOB_GPUS,
    shell:
        "python -m mcnn evaluate-voc --checkpoint {input.model:q} --index {input.index:q}"
        " --split {params.split:q} --params {params.settings:q} --variant {wildcards.variant}"
        " --fov {wildcards.fov} --seed {wildcards.seed} --gpus {params.gpus}"
        " --allow-cpu {resources.allow_cpu} --output {output:q} > {log:q} 2>&1"


rule results_table:
    input:
        evaluation_results,
    output:
        csv=report(
            f"{RESULTS}/tables/voc.csv",
            category="Segmentation (VOC)",
            caption="../report/voc_table.rst",
        ),
        md=f"{RESULTS}/tables/voc.md",
        png=report(
            f"{RESULTS}/tables/voc.png",
            category="Segmentation (VOC)",
            caption="../report/voc_table.rst",
        ),
        bars=report(
            f"{RESULTS}/tables/voc_per_class.png",
            category="Segmentation (VOC)",
            caption="../report/voc_bars.rst",
        ),
    log:
        f"{LOGS}/tables/voc.log",
    benchmark:
        f"{BENCHMARKS}/tables/voc.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=config["resources"]["mem_mb"],
        runtime=config["resources"]["runtime"],
    params:
        note=config["report_note"],
    shell:
        "python -m mcnn results-table --results {input:q} --output-csv {output.csv:q}"
        " --output-md {output.md:q} --output-png {output.png:q} --output-bars {output.bars:q}"
        " --note={params.note:q} > {log:q} 2>&1"


rule colocalize:
    input:
        model=lambda w: variant_model(
            config["evaluate"]["colocalize_variant"], w.fov, w.seed
        ),
        index=f"{RESULTS}/index/{{dataset}}.shots.csv",
        boxes=f"{RESULTS}/index/{{dataset}}.boxes.csv",
        motion=motion_files,
    output:
        table=report(
            f"{RESULTS}/tables/corloc-{{dataset}}-{{fov}}-s{{seed}}.csv",
            category="Co-localization",
            caption="../report/corloc.rst",
        ),
        md=f"{RESULTS}/tables/corloc-{{dataset}}-{{fov}}-s{{seed}}.md",
        summary=f"{RESULTS}/tables/corloc-{{dataset}}-{{fov}}-s{{seed}}.json",
        frames=f"{RESULTS}/eval/corloc/{{dataset}}-{{fov}}-s{{seed}}.frames.csv",
    log:
        f"{LOGS}/colocalize/{{dataset}}-{{fov}}-s{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/colocalize/{{dataset}}-{{fov}}-s{{seed}}.tsv"
    conda:
        ENV
    threads: config["resources"]["threads"]
    resources:
        gpu=JOB_GPUS,
        allow_cpu=ALLOW_CPU,
        mem_mb=config["resources"]["mem_mb"],
        runtime=config["resources"]["runtime"],
    params:
        settings=EVALUATE_COLOC,
        note=config["report_note"],
        gpus=JOB_GPUS,
    shell:
        "python -m mcnn colocalize --checkpoint {input.model:q} --index {input.index:q}"
        " --boxes {input.boxes:q} --motion {input.motion:q} --params {params.settings:q}"
        " --output {output.table:q} --output-md {output.md:q} --summary {output.summary:q}"
        " --frames {output.frames:q} --compare-published --note={params.note:q}"
        " --gpus {params.gpus} --allow-cpu {resources.allow_cpu} > {log:q} 2>&1"


rule qualitative:
    input:
        models=lambda w: [
            variant_model(variant, w.fov, w.seed)
            for variant in config["experiments"]["variants"]
        ],
        index=image_index,
    output:
        report(
            f"{RESULTS}/figures/qualitative-{{fov}}-s{{seed}}.png",
            category="Segmentation (VOC)",
            caption="../report/qualitative.rst",
        ),
    log:
        f"{LOGS}/qualitative/{{fov}}-s{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/qualitative/{{fov}}-s{{seed}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=config["resources"]["mem_mb"],
        runtime=config["resources"]["runtime"],
    params:
        checkpoints=lambda w, input: [
            f"{variant}={model}"
            for variant, model in zip(config["experiments"]["variants"], input.models)
        ],
        split=config["evaluate"]["split"],
        images=config["evaluate"]["qualitative_images"],
    shell:
        "python -m mcnn qualitative --checkpoints {params.checkpoints:q} --index {input.index:q}"
        " --split {params.split:q} --count {params.images} --output {output:q} > {log:q} 2>&1"


rule predict:
    input:
        model=variant_model(
            config["evaluate"]["colocalize_variant"],
            config["experiments"]["fovs"][0],
            config["experiments"]["seeds"][0],
        ),
        source=config["evaluate"]["predict_input"] or [],
    output:
        directory(f"{RESULTS}/predict"),
    log:
        f"{LOGS}/predict.log",
    benchmark:
        f"{BENCHMARKS}/predict.tsv"
    conda:
        ENV
    threads: config["resources"]["threads"]
    resources:
        gpu=JOB_GPUS,
        allow_cpu=ALLOW_CPU,
        mem_mb=config["resources"]["mem_mb"],
        runtime=config["resources"]["runtime"],
    params:
        gpus=JOB_GPUS,
    shell:
        "python -m mcnn predict --checkpoint {input.model:q} --input {input.source:q}"
        " --gpus {params.gpus} --allow-cpu {resources.allow_cpu} --output {output:q} > {log:q} 2>&1"


rule stage_timings:
    input:
        all_targets,
    output:
        csv=report(
            f"{RESULTS}/tables/stage_times.csv",
            category="Stage timings",
            caption="../report/stage_times.rst",
        ),
        md=f"{RESULTS}/tables/stage_times.md",
        png=report(
            f"{RESULTS}/figures/stage_times.png",
            category="Stage timings",
            caption="../report/stage_times.rst",
        ),
    log:
        f"{LOGS}/stage_timings.log",
    # Outside BENCHMARKS: the table is of the stages it summarises, not of itself.
    benchmark:
        f"{LOGS}/stage_timings.benchmark.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        benchmarks=BENCHMARKS,
    shell:
        "python -m mcnn stage-timings --benchmarks {params.benchmarks:q}"
        " --output-csv {output.csv:q} --output-md {output.md:q} --output-png {output.png:q}"
        " > {log:q} 2>&1"
