# Training: the first M-CNN training per label strategy, shot selection, fine-tuning and mixed
# video+image training; one job per (strategy, field of view, seed).


rule train:
    input:
        samples=video_samples,
    output:
        model=f"{RESULTS}/train/{{strategy}}-{{fov}}-s{{seed}}/model.pt",
        loss=report(
            f"{RESULTS}/train/{{strategy}}-{{fov}}-s{{seed}}/loss.png",
            category="Training curves",
            caption="../report/loss.rst",
        ),
        label_quality=f"{RESULTS}/train/{{strategy}}-{{fov}}-s{{seed}}/labels_quality.csv",
        label_quality_plot=report(
            f"{RESULTS}/train/{{strategy}}-{{fov}}-s{{seed}}/labels_quality.png",
            category="Label quality",
            caption="../report/label_quality.rst",
        ),
        summary=f"{RESULTS}/train/{{strategy}}-{{fov}}-s{{seed}}/train.json",
    log:
        f"{LOGS}/train/{{strategy}}-{{fov}}-s{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/train/{{strategy}}-{{fov}}-s{{seed}}.tsv"
    priority: training_priority
    conda:
        ENV
    threads: config["resources"]["threads"]
    resources:
        gpu=TRAIN_GPUS,
        allow_cpu=ALLOW_CPU,
        label_workers=config["train"]["train"]["label_workers"],
        checkpoint_every=config["train"]["train"]["checkpoint_every"],
        mem_mb=config["resources"]["train_mem_mb"],
        runtime=config["resources"]["train_runtime"],
    params:
        settings=lambda w: as_json(train_view("train", w.fov)),
        labels=lambda w: as_json(labels_view("train", w.strategy)),
        classes=as_json(config["classes"]),
        out_dir=lambda w, output: Path(output.model).parent,
        gpus=TRAIN_GPUS,
    shell:
        "python -m mcnn train --samples {input.samples:q} --params {params.settings:q}"
        " --gpus {params.gpus} --allow-cpu {resources.allow_cpu}"
        " --label-workers {resources.label_workers}"
        " --checkpoint-every {resources.checkpoint_every}"
        " --label-params {params.labels:q} --classes {params.classes:q}"
        " --strategy {wildcards.strategy} --seed {wildcards.seed}"
        " --output-dir {params.out_dir:q} > {log:q} 2>&1"


rule select_shots:
    input:
        model=f"{RESULTS}/train/mcnn-{{fov}}-s{{seed}}/model.pt",
        samples=video_samples,
    output:
        report(
            f"{RESULTS}/select/{{fov}}-s{{seed}}.csv",
            category="Shot selection",
            caption="../report/selection.rst",
        ),
    log:
        f"{LOGS}/select/{{fov}}-s{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/select/{{fov}}-s{{seed}}.tsv"
    conda:
        ENV
    threads: config["resources"]["threads"]
    resources:
        gpu=JOB_GPUS,
        allow_cpu=ALLOW_CPU,
        mem_mb=config["resources"]["mem_mb"],
        runtime=config["resources"]["runtime"],
    params:
        settings=as_json(config["train"]["select"]),
        gpus=JOB_GPUS,
    shell:
        "python -m mcnn select-shots --checkpoint {input.model:q} --samples {input.samples:q}"
        " --params {params.settings:q} --gpus {params.gpus} --allow-cpu {resources.allow_cpu}"
        " --output {output:q} > {log:q} 2>&1"


rule finetune:
    input:
        init=f"{RESULTS}/train/mcnn-{{fov}}-s{{seed}}/model.pt",
        shots=f"{RESULTS}/select/{{fov}}-s{{seed}}.csv",
        samples=video_samples,
    output:
        model=f"{RESULTS}/finetune/{{fov}}-s{{seed}}/model.pt",
        loss=report(
            f"{RESULTS}/finetune/{{fov}}-s{{seed}}/loss.png",
            category="Training curves",
            caption="../report/loss.rst",
        ),
        label_quality=f"{RESULTS}/finetune/{{fov}}-s{{seed}}/labels_quality.csv",
        label_quality_plot=report(
            f"{RESULTS}/finetune/{{fov}}-s{{seed}}/labels_quality.png",
            category="Label quality",
            caption="../report/label_quality.rst",
        ),
        summary=f"{RESULTS}/finetune/{{fov}}-s{{seed}}/train.json",
    log:
        f"{LOGS}/finetune/{{fov}}-s{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/finetune/{{fov}}-s{{seed}}.tsv"
    conda:
        ENV
    threads: config["resources"]["threads"]
    resources:
        gpu=TRAIN_GPUS,
        allow_cpu=ALLOW_CPU,
        label_workers=config["train"]["train"]["label_workers"],
        checkpoint_every=config["train"]["train"]["checkpoint_every"],
        mem_mb=config["resources"]["train_mem_mb"],
        runtime=config["resources"]["train_runtime"],
    params:
        settings=lambda w: as_json(train_view("finetune", w.fov)),
        labels=as_json(labels_view("finetune", "mcnn")),
        classes=as_json(config["classes"]),
        out_dir=lambda w, output: Path(output.model).parent,
        gpus=TRAIN_GPUS,
    shell:
        "python -m mcnn train --samples {input.samples:q} --params {params.settings:q}"
        " --gpus {params.gpus} --allow-cpu {resources.allow_cpu}"
        " --label-workers {resources.label_workers}"
        " --checkpoint-every {resources.checkpoint_every}"
        " --label-params {params.labels:q} --classes {params.classes:q}"
        " --strategy mcnn --seed {wildcards.seed} --init {input.init:q} --shots {input.shots:q}"
        " --output-dir {params.out_dir:q} > {log:q} 2>&1"


rule train_mixed:
    input:
        init=f"{RESULTS}/finetune/{{fov}}-s{{seed}}/model.pt",
        shots=f"{RESULTS}/select/{{fov}}-s{{seed}}.csv",
        samples=video_samples,
        images=image_index,
    output:
        model=f"{RESULTS}/mixed/{{fov}}-s{{seed}}/model.pt",
        loss=report(
            f"{RESULTS}/mixed/{{fov}}-s{{seed}}/loss.png",
            category="Training curves",
            caption="../report/loss.rst",
        ),
        label_quality=f"{RESULTS}/mixed/{{fov}}-s{{seed}}/labels_quality.csv",
        label_quality_plot=report(
            f"{RESULTS}/mixed/{{fov}}-s{{seed}}/labels_quality.png",
            category="Label quality",
            caption="../report/label_quality.rst",
        ),
        summary=f"{RESULTS}/mixed/{{fov}}-s{{seed}}/train.json",
    log:
        f"{LOGS}/mixed/{{fov}}-s{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/mixed/{{fov}}-s{{seed}}.tsv"
    conda:
        ENV
    threads: config["resources"]["threads"]
    resources:
        gpu=TRAIN_GPUS,
        allow_cpu=ALLOW_CPU,
        label_workers=config["train"]["train"]["label_workers"],
        checkpoint_every=config["train"]["train"]["checkpoint_every"],
        mem_mb=config["resources"]["train_mem_mb"],
        runtime=config["resources"]["train_runtime"],
    params:
        settings=lambda w: as_json(train_view("mixed", w.fov)),
        labels=as_json(labels_view("mixed", "mcnn")),
        classes=as_json(config["classes"]),
        out_dir=lambda w, output: Path(output.model).parent,
        gpus=TRAIN_GPUS,
    shell:
        "python -m mcnn train --samples {input.samples:q} --params {params.settings:q}"
        " --gpus {params.gpus} --allow-cpu {resources.allow_cpu}"
        " --label-workers {resources.label_workers}"
        " --checkpoint-every {resources.checkpoint_every}"
        " --label-params {params.labels:q} --classes {params.classes:q}"
        " --strategy mcnn --seed {wildcards.seed} --init {input.init:q} --shots {input.shots:q}"
        " --images {input.images:q} --output-dir {params.out_dir:q} > {log:q} 2>&1"


rule label_figures:
    input:
        samples=f"{RESULTS}/samples/{{dataset}}.h5",
        model=f"{RESULTS}/train/mcnn-{{fov}}-s{{seed}}/model.pt",
    output:
        report(
            f"{RESULTS}/figures/labels/{{dataset}}-{{fov}}-s{{seed}}.png",
            category="Label inference",
            caption="../report/label_figures.rst",
        ),
    log:
        f"{LOGS}/label_figures/{{dataset}}-{{fov}}-s{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/label_figures/{{dataset}}-{{fov}}-s{{seed}}.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=config["resources"]["mem_mb"],
        runtime=config["resources"]["runtime"],
    params:
        labels=as_json(without(config["labels"], {"alpha_finetune"})),
        classes=as_json(config["classes"]),
    shell:
        "python -m mcnn label-figures --samples {input.samples:q} --checkpoint {input.model:q}"
        " --params {params.labels:q} --classes {params.classes:q} --seed {wildcards.seed}"
        " --output {output:q} > {log:q} 2>&1"


rule label_curves:
    input:
        lambda w: [
            str(Path(model).parent / "train.json") for model in experiment_models()
        ],
    output:
        csv=f"{RESULTS}/tables/label_quality.csv",
        png=report(
            f"{RESULTS}/tables/label_quality.png",
            category="Label quality",
            caption="../report/label_curves.rst",
        ),
    log:
        f"{LOGS}/tables/label_quality.log",
    benchmark:
        f"{BENCHMARKS}/tables/label_quality.tsv"
    conda:
        ENV
    threads: 1
    resources:
        mem_mb=config["resources"]["mem_mb"],
        runtime=config["resources"]["runtime"],
    params:
        runs=lambda w, input: [str(Path(path).parent) for path in input],
    shell:
        "python -m mcnn label-curves --runs {params.runs:q} --output-csv {output.csv:q}"
        " --output-png {output.png:q} > {log:q} 2>&1"
