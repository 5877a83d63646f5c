#!/usr/bin/env node
// Offline validation of deploy/kubernetes; ctest runs it through kubernetes_test.py (schema).
//
//   node tests/kubernetes/validate.mjs DEPLOY_KUBERNETES_DIR
//   node tests/kubernetes/validate.mjs --built BUILT_YAML DEPLOY_KUBERNETES_DIR
//
// The second form takes what `kubectl kustomize DEPLOY_KUBERNETES_DIR` printed: checks 2
// to 4 on those objects, and that the ConfigMap is the generator's (assets-agent.yml, its
// name with kustomize's hash suffix) and is the one the DaemonSet mounts.
//
// 1. kustomization.yaml: its fields, every resource and generator file it lists exists, and
//    every .yaml/.yml file of the folder is listed (kustomize itself is not installed).
// 2. Every object of every listed file, and the ConfigMap that configMapGenerator makes, is
//    validated against the JSON schema of its API (kubernetes-models for Kubernetes,
//    @kubernetes-models/prometheus-operator for ServiceMonitor and PrometheusRule). A kind
//    without a model is an error. Fields the schema does not know are errors too, as
//    `kubectl apply` (strict field validation) makes them: the models' validators accept
//    them, so the fields each validator reads are recorded and any other one is reported.
// 3. Every file reads the same as YAML 1.1 (Kubernetes' reader) and as YAML 1.2.
// 4. The objects agree with each other and with the agent's files: selectors and labels,
//    port names, the ConfigMap and the Secret named, the paths given to the agent (flags,
//    and every path in assets-agent.yml and web.yml.example) mounted in its container,
//    the probes' paths served without credentials.
//
// The npm modules are those of tests/kubernetes/package-lock.json, which
// `deploy/install-deps.sh --test` installs with `npm ci` into
// ${ASSETS_TEST_CACHE:-/var/cache/assets-agent-tests}/npm. Exit codes: 0 valid, 1 not,
// 2 usage, 77 the modules are missing or not the pinned versions.
import { createRequire } from "node:module";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const SKIP = 77;
const HERE = path.dirname(fileURLToPath(import.meta.url));
// What each pinned model version was generated from (the packages' change logs).
const SCHEMA_SOURCES = {
  "kubernetes-models": { "4.5.1": "Kubernetes v1.33.0" },
  "@kubernetes-models/prometheus-operator": { "4.4.4": "prometheus-operator v0.65.1 CRDs" },
};
const KUSTOMIZATION_FIELDS = new Set([
  "apiVersion", "kind", "metadata", "resources", "components", "crds", "namespace", "namePrefix",
  "nameSuffix", "labels", "commonLabels", "commonAnnotations", "configMapGenerator", "secretGenerator",
  "generatorOptions", "images", "replicas", "patches", "patchesStrategicMerge", "patchesJson6902",
  "replacements", "vars", "buildMetadata", "openapi", "helmCharts", "sortOptions", "transformers",
  "generators", "validators", "configurations",
]);
// Kinds that the cross-reference checks look at; any other kind is validated alone.
const WATCHED = ["apps/v1/DaemonSet", "v1/Service", "monitoring.coreos.com/v1/ServiceMonitor"];

const problems = [];
const problem = (where, message) => problems.push(`${where}: ${message}`);

function loadModules() {
  const root = path.join(process.env.ASSETS_TEST_CACHE || "/var/cache/assets-agent-tests", "npm");
  const pinned = JSON.parse(readFileSync(path.join(HERE, "package.json"), "utf8")).dependencies;
  const require = createRequire(path.join(root, "package.json"));
  const versions = {};
  for (const [name, version] of Object.entries(pinned)) {
    let installed;
    try {
      installed = require(`${name}/package.json`).version;
    } catch {
      installed = undefined;
    }
    if (installed !== version) {
      console.error(`validate: npm module ${name}@${version} is ${installed ? `${installed} in` : "not in"} ` +
        `${root}: run deploy/install-deps.sh --test`);
      process.exit(SKIP);
    }
    versions[name] = version;
  }
  return { require, versions, yaml: require("yaml") };
}

// The model class of an apiVersion and kind, or undefined.
function modelOf(require, apiVersion, kind) {
  const module = apiVersion.startsWith("monitoring.coreos.com/")
    ? `@kubernetes-models/prometheus-operator/${apiVersion}`
    : `kubernetes-models/${apiVersion}`;
  let exports;
  try {
    exports = require(module);
  } catch {
    return undefined;
  }
  const model = Object.hasOwn(exports, kind) ? exports[kind] : undefined;
  return model && model.apiVersion === apiVersion && model.kind === kind ? model : undefined;
}

// A view of `value` that records, per object, the properties read through it.
function tracked(value, reads) {
  if (value === null || typeof value !== "object") return value;
  return new Proxy(value, {
    get(target, key, receiver) {
      if (typeof key === "string" && !Array.isArray(target)) {
        if (!reads.has(target)) reads.set(target, new Set());
        reads.get(target).add(key);
      }
      return tracked(Reflect.get(target, key, receiver), reads);
    },
  });
}

// Properties the validator never read, in objects whose properties it did read (an object
// it only type-checked is free-form in its schema).
function unreadFields(node, reads, where, out = []) {
  if (Array.isArray(node)) {
    node.forEach((item, i) => unreadFields(item, reads, `${where}[${i}]`, out));
  } else if (node !== null && typeof node === "object") {
    const read = reads.get(node);
    for (const [key, child] of Object.entries(node)) {
      if (read && !read.has(key)) out.push(`${where}.${key}`);
      else unreadFields(child, reads, `${where}.${key}`, out);
    }
  }
  return out;
}

function validateObject(require, object, where) {
  const { apiVersion, kind } = object;
  const Model = typeof apiVersion === "string" && typeof kind === "string" && modelOf(require, apiVersion, kind);
  if (!Model) {
    problem(where, `no schema for apiVersion ${JSON.stringify(apiVersion)} kind ${JSON.stringify(kind)}`);
    return false;
  }
  const model = new Model(object);
  const reads = new Map();
  try {
    Model.prototype.validate.call(tracked(model, reads));
  } catch (error) {
    problem(where, `${apiVersion} ${kind}: ${error.message}`);
    return false;
  }
  const unknown = unreadFields(model, reads, "");
  for (const field of unknown) problem(where, `${apiVersion} ${kind}: unknown field ${field.slice(1)}`);
  return unknown.length === 0;
}

// Every document of a YAML file, read as Kubernetes reads it (YAML 1.1), after checking
// that YAML 1.2 reads the same values.
function readDocuments(yaml, file, where) {
  const text = readFileSync(file, "utf8");
  const parse = (version) => yaml.parseAllDocuments(text, { version, prettyErrors: true, uniqueKeys: true });
  const documents = parse("1.1");
  let ok = true;
  for (const document of documents) {
    for (const error of [...document.errors, ...document.warnings]) {
      problem(where, error.message.split("\n")[0]);
      ok = false;
    }
  }
  if (!ok) return [];
  const values = documents.map((document) => document.toJS());
  const values12 = parse("1.2").map((document) => document.toJS());
  if (JSON.stringify(values) !== JSON.stringify(values12)) {
    problem(where, "reads differently as YAML 1.1 and 1.2 (an octal like 0440, or yes/no/on/off unquoted?)");
  }
  return values.filter((value) => value !== null);
}

const isMapping = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
const within = (file, dir) => file === dir || file.startsWith(dir.endsWith("/") ? dir : `${dir}/`);

function checkKustomization(dir, kustomization) {
  const where = "kustomization.yaml";
  if (kustomization.apiVersion !== "kustomize.config.k8s.io/v1beta1" || kustomization.kind !== "Kustomization") {
    problem(where, "apiVersion kustomize.config.k8s.io/v1beta1 and kind Kustomization expected");
  }
  for (const key of Object.keys(kustomization)) {
    if (!KUSTOMIZATION_FIELDS.has(key)) problem(where, `unknown field ${key}`);
  }
  const listed = new Map(); // file -> what lists it
  const list = (file, by) => {
    if (typeof file !== "string" || file.includes("://") || path.isAbsolute(file) || file.split("/").includes("..")) {
      problem(where, `${by}: ${JSON.stringify(file)} is not a file of this folder`);
    } else if (!existsSync(path.join(dir, file)) || !statSync(path.join(dir, file)).isFile()) {
      problem(where, `${by}: ${file} does not exist`);
    } else if (listed.has(file)) {
      problem(where, `${by}: ${file} is listed twice`);
    } else {
      listed.set(file, by);
    }
  };
  const resources = kustomization.resources ?? [];
  if (!Array.isArray(resources) || resources.length === 0) problem(where, "resources: a list of files expected");
  else resources.forEach((file) => list(file, "resources"));

  const generated = [];
  for (const [i, generator] of (kustomization.configMapGenerator ?? []).entries()) {
    const by = `configMapGenerator[${i}]`;
    if (!isMapping(generator) || typeof generator.name !== "string") {
      problem(where, `${by}: a name expected`);
      continue;
    }
    for (const key of Object.keys(generator)) {
      if (!["name", "namespace", "behavior", "files", "literals", "envs", "options"].includes(key)) {
        problem(where, `${by}: unknown field ${key}`);
      }
    }
    const data = {};
    for (const entry of generator.files ?? []) {
      const [key, file] = String(entry).includes("=") ? String(entry).split("=", 2) : [path.basename(String(entry)), entry];
      list(file, by);
      if (existsSync(path.join(dir, file))) data[key] = readFileSync(path.join(dir, file), "utf8");
    }
    for (const literal of generator.literals ?? []) {
      const [key, ...value] = String(literal).split("=");
      data[key] = value.join("=");
    }
    generated.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: generator.name, namespace: generator.namespace ?? kustomization.namespace },
      data,
    });
  }
  for (const entry of readdirSync(dir).sort()) {
    if (/\.ya?ml$/.test(entry) && entry !== "kustomization.yaml" && !listed.has(entry)) {
      problem(entry, "not listed in kustomization.yaml (resources or a generator's files)");
    }
  }
  return { resources: Array.isArray(resources) ? resources.filter((file) => listed.has(file)) : [], generated };
}

const matches = (selector, labels) =>
  isMapping(selector) && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([key, value]) => labels?.[key] === value);

// Absolute paths the agent is told to read: sockets, folders, *_file and certificate
// patterns (up to their first wildcard).
function agentPaths(node, where, out = []) {
  if (Array.isArray(node)) {
    node.forEach((item, i) => agentPaths(item, `${where}[${i}]`, out));
  } else if (isMapping(node)) {
    for (const [key, value] of Object.entries(node)) {
      const here = where ? `${where}.${key}` : key;
      const pathKey = ["socket", "path", "status_file", "files"].includes(key) || key.endsWith("_file");
      for (const candidate of pathKey ? [value].flat() : []) {
        if (typeof candidate === "string" && candidate.startsWith("/")) {
          const fixed = candidate.split("/").filter((_, i, parts) => !parts.slice(0, i + 1).some((p) => /[*?[]/.test(p)));
          out.push({ where: here, file: fixed.join("/") || "/" });
        }
      }
      if (!pathKey) agentPaths(value, here, out);
    }
  }
  return out;
}

function crossCheck(dir, yaml, objects, generated) {
  const byKind = (key) => objects.filter((o) => `${o.object.apiVersion}/${o.object.kind}` === key);
  const [daemonSets, services, monitors] = WATCHED.map(byKind);
  if (daemonSets.length !== 1 || services.length !== 1 || monitors.length !== 1) {
    problem("deploy/kubernetes", "one DaemonSet, one Service and one ServiceMonitor expected");
    return;
  }
  const ds = daemonSets[0].object;
  const svc = services[0].object;
  const sm = monitors[0].object;
  const pod = ds.spec?.template ?? {};
  const podLabels = pod.metadata?.labels ?? {};
  const container = pod.spec?.containers?.[0] ?? {};
  const volumes = new Map((pod.spec?.volumes ?? []).map((v) => [v.name, v]));
  const portNames = new Set((container.ports ?? []).map((p) => p.name));
  const configMaps = new Map(generated.map((c) => [c.metadata.name, c]));
  byKind("v1/ConfigMap").forEach(({ object }) => configMaps.set(object.metadata?.name, object));

  if (!matches(ds.spec?.selector?.matchLabels, podLabels)) problem(daemonSets[0].where, "selector does not match the pod's labels");
  if (!matches(svc.spec?.selector, podLabels)) problem(services[0].where, "selector does not match the DaemonSet's pods");
  for (const port of svc.spec?.ports ?? []) {
    if (typeof port.targetPort === "string" && !portNames.has(port.targetPort)) {
      problem(services[0].where, `targetPort ${port.targetPort} is no port of the container`);
    }
  }
  if (!matches(sm.spec?.selector?.matchLabels, svc.metadata?.labels)) problem(monitors[0].where, "selector does not match the Service's labels");
  const servicePorts = new Set((svc.spec?.ports ?? []).map((p) => p.name));
  for (const endpoint of sm.spec?.endpoints ?? []) {
    if (!servicePorts.has(endpoint.port)) problem(monitors[0].where, `port ${endpoint.port} is no port of the Service`);
  }
  for (const probe of ["livenessProbe", "readinessProbe"]) {
    const port = container[probe]?.httpGet?.port;
    if (typeof port === "string" && !portNames.has(port)) problem(daemonSets[0].where, `${probe}: port ${port} is no port of the container`);
  }

  // What each mounted path holds: a ConfigMap's keys, a Secret's items, or a host path.
  const mounts = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = volumes.get(mount.name);
    if (!volume) {
      problem(daemonSets[0].where, `volumeMount ${mount.name}: no such volume`);
      continue;
    }
    if (mount.readOnly !== true) problem(daemonSets[0].where, `volumeMount ${mount.name}: not read-only`);
    let files = null; // null: anything (a host path)
    if (volume.configMap) {
      const configMap = configMaps.get(volume.configMap.name);
      if (!configMap) problem(daemonSets[0].where, `volume ${mount.name}: no ConfigMap ${volume.configMap.name} here`);
      files = new Map(Object.entries(configMap?.data ?? {}));
    } else if (volume.secret) {
      files = new Map((volume.secret.items ?? []).map((item) => [item.path, null]));
    }
    mounts.push({ mountPath: mount.mountPath, volume, files });
  }
  const mounted = (file) => mounts.find((m) => within(file, m.mountPath) &&
    (m.files === null || m.files.has(path.relative(m.mountPath, file))));
  const flag = (name) => (container.args ?? []).map((a) => String(a)).find((a) => a.startsWith(`--${name}=`))?.split("=")[1];

  const readMounted = (name, file) => {
    if (!file) {
      problem(daemonSets[0].where, `no --${name}= in the container's args`);
      return undefined;
    }
    const mount = mounted(file);
    if (!mount) problem(daemonSets[0].where, `--${name}=${file}: not a file the container mounts`);
    return mount?.files?.get(path.relative(mount.mountPath, file)) ?? undefined;
  };
  const config = readMounted("config.file", flag("config.file"));
  readMounted("web.config.file", flag("web.config.file"));

  // The agent's own files: every path they name is mounted.
  const checkPaths = (text, name) => {
    const [document] = yaml.parseAllDocuments(text, { version: "1.1" }).map((d) => d.toJS());
    for (const { where, file } of agentPaths(document, "")) {
      if (!mounted(file)) problem(name, `${where}: ${file} is not mounted in the container`);
    }
    return document;
  };
  if (config !== undefined) checkPaths(config, `${flag("config.file")} (ConfigMap)`);
  const webExample = path.join(dir, "web.yml.example");
  if (!existsSync(webExample)) {
    problem("web.yml.example", "missing");
  } else {
    const web = checkPaths(readFileSync(webExample, "utf8"), "web.yml.example");
    const open = new Set(web?.unauthenticated_paths ?? []);
    for (const probe of ["livenessProbe", "readinessProbe"]) {
      const probePath = container[probe]?.httpGet?.path;
      if (!open.has(probePath)) problem("web.yml.example", `${probe} path ${probePath} is not in unauthenticated_paths`);
    }
    const token = web?.bearer_token_file;
    const credentials = sm.spec?.endpoints?.[0]?.authorization?.credentials;
    const secretMount = mounts.find((m) => m.volume.secret && within(token ?? "", m.mountPath));
    if (!secretMount || !credentials || credentials.name !== secretMount.volume.secret.secretName ||
        !(secretMount.volume.secret.items ?? []).some((i) => i.key === credentials.key && within(token, path.join(secretMount.mountPath, i.path)))) {
      problem(monitors[0].where, "the token Prometheus sends is not the Secret's key that web.yml.example's bearer_token_file reads");
    }
  }
}

function sources(versions) {
  return Object.entries(SCHEMA_SOURCES).map(([name, known]) =>
    `${name} ${versions[name]} (${known[versions[name]] ?? "schema version not recorded"})`).join(" and ");
}

function validateAll(require, objects, namespace) {
  const names = new Set();
  let valid = 0;
  for (const { object, where } of objects) {
    if (!isMapping(object)) {
      problem(where, "not a mapping");
      continue;
    }
    const id = `${object.apiVersion} ${object.kind} ${object.metadata?.namespace}/${object.metadata?.name}`;
    if (names.has(id)) problem(where, `${id} defined twice`);
    names.add(id);
    if (namespace && object.metadata?.namespace !== namespace) {
      problem(where, `namespace ${object.metadata?.namespace} is not the kustomization's ${namespace}`);
    }
    if (validateObject(require, object, where)) {
      valid++;
      console.log(`ok  ${id}  (${where})`);
    }
  }
  return valid;
}

// `kubectl kustomize`'s output: the generated ConfigMap is there, named with a hash
// suffix, holds assets-agent.yml, and is what the DaemonSet mounts.
function checkBuilt(dir, objects, kustomization) {
  const generators = kustomization.configMapGenerator ?? [];
  for (const generator of generators) {
    const made = objects.filter(({ object }) => object.kind === "ConfigMap" &&
      new RegExp(`^${generator.name}-[a-z0-9]{10}$`).test(object.metadata?.name ?? ""));
    if (made.length !== 1) {
      problem("built", `no ConfigMap ${generator.name}-<hash> (kustomize's name suffix)`);
      continue;
    }
    const { object } = made[0];
    for (const file of generator.files ?? []) {
      if (object.data?.[path.basename(file)] !== readFileSync(path.join(dir, file), "utf8")) {
        problem("built", `ConfigMap ${object.metadata.name}: key ${path.basename(file)} is not ${file}`);
      }
    }
    const mountedBy = objects.some(({ object: o }) => o.kind === "DaemonSet" &&
      (o.spec?.template?.spec?.volumes ?? []).some((v) => v.configMap?.name === object.metadata.name));
    if (!mountedBy) problem("built", `the DaemonSet does not mount ${object.metadata.name}`);
  }
  const kinds = objects.map(({ object }) => object.kind).sort().join(", ");
  console.log(`built: ${kinds}`);
}

function main() {
  const args = process.argv.slice(2);
  const built = args[0] === "--built" ? args[1] : undefined;
  const dir = built ? args[2] : args[0];
  if (!dir || !existsSync(path.join(dir, "kustomization.yaml")) || (args[0] === "--built" && !built)) {
    console.error("usage: node validate.mjs [--built BUILT_YAML] DEPLOY_KUBERNETES_DIR (the folder of kustomization.yaml)");
    return 2;
  }
  const { require, versions, yaml } = loadModules();
  const [kustomization] = readDocuments(yaml, path.join(dir, "kustomization.yaml"), "kustomization.yaml");
  if (!isMapping(kustomization)) {
    problem("kustomization.yaml", "not a mapping");
    problems.forEach((line) => console.error(line));
    return 1;
  }
  const objects = [];
  let generated = [];
  if (built) {
    const documents = readDocuments(yaml, built, "built");
    documents.forEach((object, i) => objects.push({ object, where: `built[${i}] ${object?.kind}` }));
    checkBuilt(dir, objects, kustomization);
  } else {
    const listed = checkKustomization(dir, kustomization);
    generated = listed.generated;
    for (const file of listed.resources) {
      const documents = readDocuments(yaml, path.join(dir, file), file);
      if (documents.length === 0) problem(file, "no object");
      documents.forEach((object, i) => objects.push({ object, where: documents.length > 1 ? `${file}[${i}]` : file }));
    }
    generated.forEach((object) => objects.push({ object, where: `kustomization.yaml configMapGenerator ${object.metadata.name}` }));
  }
  const valid = validateAll(require, objects, kustomization.namespace);
  crossCheck(dir, yaml, objects, generated);

  if (problems.length > 0) {
    problems.forEach((line) => console.error(line));
    console.error(`${problems.length} problem(s) in ${built ?? dir}`);
    return 1;
  }
  console.log(`${valid} object(s)${built ? " of the kustomize build" : ""} valid against ${sources(versions)}`);
  return 0;
}

process.exitCode = main();
