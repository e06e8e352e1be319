package runner_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nanoact/nanoact/runner"
)

// The SGE, PBS and LSF scripts hold their directives and, run by sh as a
// scheduler would run them (their directives are comments to the shell),
// start daemons that join the dispatcher and leave on its bye.
func TestBatchScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	t.Parallel()
	d, err := runner.NewDispatcher("tls+tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	o := runner.BatchOptions{JobName: "nd", Daemons: 4, CPUsPerTask: 2, Time: "01:00:00", Memory: "2G", Partition: "short",
		Output: "/tmp/nd.out", Extra: []string{"-A lab"}}
	cases := []struct {
		name   string
		render func(runner.Launch, runner.BatchOptions) string
		want   []string
	}{
		{"sge", runner.Launch.SGE, []string{"#$ -N nd\n", "#$ -t 1-4\n", "#$ -pe smp 2\n", "#$ -l h_rt=01:00:00\n", "#$ -l h_vmem=2G\n",
			"#$ -q short\n", "#$ -j y\n", "#$ -o /tmp/nd.out\n", "#$ -A lab\n"}},
		{"pbs", runner.Launch.PBS, []string{"#PBS -N nd\n", "#PBS -J 1-4\n", "#PBS -l select=1:ncpus=2:mem=2G\n", "#PBS -l walltime=01:00:00\n",
			"#PBS -q short\n", "#PBS -j oe\n", "#PBS -o /tmp/nd.out\n", "#PBS -A lab\n"}},
		{"lsf", runner.Launch.LSF, []string{"#BSUB -J 'nd[1-4]'\n", "#BSUB -n 2\n", "#BSUB -M 2G\n", "#BSUB -W 01:00:00\n",
			"#BSUB -q short\n", "#BSUB -o /tmp/nd.out\n", "#BSUB -A lab\n"}},
	}
	dir := t.TempDir()
	var out syncBuffer
	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	for _, c := range cases {
		spec, err := d.Launch(os.Args[0], "--id", c.name)
		if err != nil {
			t.Fatal(err)
		}
		spec.Args = append([]string{"-test.run=^TestHelperDaemonProcess$"}, spec.Args...)
		text := c.render(spec, o)
		want := append(c.want, "#!/bin/sh\n", "export "+runner.EnvToken+"="+d.Token()+"\n", "export "+runner.EnvTLSCA+"=")
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s script lacks %q:\n%s", c.name, w, text)
			}
		}
		if !strings.HasPrefix(text, "#!/bin/sh\n") || !strings.HasSuffix(text, spec.Args[len(spec.Args)-1]+"\n") {
			t.Errorf("%s script:\n%s", c.name, text)
		}
		one := c.render(spec, runner.BatchOptions{})
		if strings.Contains(one, "1-") || strings.Contains(one, "short") {
			t.Errorf("%s script of defaults:\n%s", c.name, one)
		}
		p := filepath.Join(dir, c.name+".sh")
		if err := os.WriteFile(p, []byte(one), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("sh", p)
		cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	ctx := ctxT(t)
	if err := d.WaitDaemons(ctx, len(cases)); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if v, err := runner.Submit[int](ctx, d, "square", 5).Value(ctx); err != nil || v != 25 {
		t.Fatal(v, err)
	}
	ids := map[string]bool{}
	for _, ds := range status(t, d).Daemons {
		ids[ds.ID] = true
	}
	if !ids["sge"] || !ids["pbs"] || !ids["lsf"] {
		t.Fatalf("daemons %v", ids)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("script: %v\n%s", err, out.String())
		}
	}
	cmds = nil
}

// The Kubernetes manifest is YAML with the fields a batch/v1 Job needs,
// and strings that YAML would misread (colons, quotes, a newline, '#')
// come back as they went in.
func TestKubernetesManifest(t *testing.T) {
	t.Parallel()
	spec := runner.Launch{Exe: "/app/bin/app", Args: []string{"daemon", "--dial", "tls+tcp://head:5555", "--id", "a: b # 'c' \"d\"\n"},
		Env: []string{runner.EnvToken + "=tok:en", runner.EnvTLSCA + "=QUJD", "EMPTY="}}
	type container struct {
		Name    string
		Image   string
		Command []string
		Env     []struct {
			Name      string
			Value     *string
			ValueFrom *struct {
				SecretKeyRef struct{ Name, Key string } `yaml:"secretKeyRef"`
			} `yaml:"valueFrom"`
		}
		Resources struct {
			Requests map[string]string
		}
	}
	type job struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string
		Metadata   struct{ Name, Namespace string }
		Spec       struct {
			Parallelism  int
			Completions  int
			BackoffLimit *int `yaml:"backoffLimit"`
			Template     struct {
				Spec struct {
					RestartPolicy string `yaml:"restartPolicy"`
					Containers    []container
				}
			}
		}
	}
	for _, o := range []runner.KubernetesOptions{
		{Image: "registry.example.org/app:1"},
		{Name: "nd: \"x\"", Namespace: "lab", Image: "app@sha256:ab", Daemons: 3, CPU: "500m", Memory: "1Gi", TokenSecret: "tok"},
	} {
		text := spec.Kubernetes(o)
		var j job
		if err := yaml.Unmarshal([]byte(text), &j); err != nil {
			t.Fatalf("%v\n%s", err, text)
		}
		// The typed decode ignores keys it does not know: the generic tree
		// has only the four a Job has.
		var tree map[string]any
		if err := yaml.Unmarshal([]byte(text), &tree); err != nil {
			t.Fatal(err)
		}
		keys := func(m any) []string {
			var ks []string
			for k := range m.(map[string]any) {
				ks = append(ks, k)
			}
			return ks
		}
		if ks := keys(tree); len(ks) != 4 || tree["apiVersion"] == nil || tree["kind"] == nil || tree["metadata"] == nil || tree["spec"] == nil {
			t.Errorf("top-level keys %v", ks)
		}
		name, n := o.Name, o.Daemons
		if name == "" {
			name, n = "nanoact-daemons", 1
		}
		if j.APIVersion != "batch/v1" || j.Kind != "Job" || j.Metadata.Name != name || j.Metadata.Namespace != o.Namespace ||
			j.Spec.Parallelism != n || j.Spec.Completions != n || j.Spec.BackoffLimit == nil || *j.Spec.BackoffLimit != 0 {
			t.Fatalf("job %+v\n%s", j, text)
		}
		ps := j.Spec.Template.Spec
		if ps.RestartPolicy != "Never" || len(ps.Containers) != 1 {
			t.Fatalf("pod spec %+v", ps)
		}
		c := ps.Containers[0]
		if c.Name == "" || c.Image != o.Image || !reflect.DeepEqual(c.Command, append([]string{spec.Exe}, spec.Args...)) {
			t.Fatalf("container %+v\n%s", c, text)
		}
		env := map[string]string{}
		for _, e := range c.Env {
			switch {
			case e.ValueFrom != nil:
				env[e.Name] = "secret " + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
			case e.Value != nil:
				env[e.Name] = *e.Value
			}
		}
		wantTok := "tok:en"
		if o.TokenSecret != "" {
			wantTok = "secret " + o.TokenSecret + "/token"
		}
		if env[runner.EnvToken] != wantTok || env[runner.EnvTLSCA] != "QUJD" || env["EMPTY"] != "" || len(env) != 3 {
			t.Fatalf("env %v", env)
		}
		if r := c.Resources.Requests; r["cpu"] != o.CPU || r["memory"] != o.Memory {
			t.Fatalf("requests %v", r)
		}
	}
}
