package runtimeenv

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		text, canon, err string
	}{
		{"", "", ""},
		{"{}", "", ""},
		{`{"env_vars": {"B": "2", "A": "1"}}`, `{"env_vars":{"A":"1","B":"2"}}`, ""},
		{`{"env_vars": {}}`, "", ""},
		{`{"env_vars": {"A": 1}}`, "", "object of strings"},
		{`{"env_vars": {"A=B": "1"}}`, "", "not an environment variable"},
		{`{"pip": ["requests"]}`, "", "Python only"},
		{`{"working_dir": "/data/x"}`, `{"working_dir":"/data/x"}`, ""},
		{`{"working_dir": "d", "env_vars": {"A": "1"}}`, `{"env_vars":{"A":"1"},"working_dir":"d"}`, ""},
		{`{"working_dir": ""}`, "", "non-empty string"},
		{`{"working_dir": 3}`, "", "non-empty string"},
		{`{"conda": "x"}`, "", "Python only"},
		{`{"colour": "red"}`, "", "unknown"},
		{`[1]`, "", "JSON object"},
	}
	for _, c := range cases {
		env, err := Parse(c.text)
		switch {
		case c.err != "":
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.text, err, c.err)
			}
		case err != nil:
			t.Errorf("%s: %v", c.text, err)
		case env.String() != c.canon:
			t.Errorf("%s: canonical %q, want %q", c.text, env.String(), c.canon)
		}
	}
}

func TestMerge(t *testing.T) {
	cases := []struct{ parent, child, want string }{
		{"", "", ""},
		{`{"env_vars":{"A":"1"}}`, "", `{"env_vars":{"A":"1"}}`},
		{"", `{"env_vars":{"A":"1"}}`, `{"env_vars":{"A":"1"}}`},
		{`{"env_vars":{"A":"1","B":"2"}}`, `{"env_vars":{"B":"3","C":"4"}}`, `{"env_vars":{"A":"1","B":"3","C":"4"}}`},
		// The child's working_dir replaces the parent's; without one, the parent's stays.
		{`{"working_dir":"p"}`, `{"env_vars":{"A":"1"}}`, `{"env_vars":{"A":"1"},"working_dir":"p"}`},
		{`{"working_dir":"p"}`, `{"working_dir":"c"}`, `{"working_dir":"c"}`},
		{"", `{"working_dir":"c"}`, `{"working_dir":"c"}`},
	}
	for _, c := range cases {
		got, err := Merge(c.parent, c.child)
		if err != nil || got != c.want {
			t.Errorf("Merge(%s, %s) = %s, %v; want %s", c.parent, c.child, got, err, c.want)
		}
	}
	if _, err := Merge("", `{"pip":[]}`); err == nil {
		t.Error("a bad child merged")
	}
	env, _ := Parse(`{"env_vars":{"B":"2","A":"x=y"}}`)
	if got := strings.Join(env.Vars(), " "); got != "A=x=y B=2" {
		t.Errorf("Vars: %s", got)
	}
}

func TestFromJobConfig(t *testing.T) {
	cases := []struct{ text, want, err string }{
		{"", "", ""},
		{`{"metadata":{"a":"b"}}`, "", ""},
		{`{"runtime_env":null}`, "", ""},
		{`{"runtime_env":{"env_vars":{"A":"1"}},"metadata":{}}`, `{"env_vars":{"A":"1"}}`, ""},
		{`{"runtime_env":{"pip":["x"]}}`, "", "Python only"},
		{`not json`, "", "not JSON"},
	}
	for _, c := range cases {
		got, err := FromJobConfig(c.text)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%q: error %v, want %q", c.text, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%q: %q %v, want %q", c.text, got, err, c.want)
		}
	}
}
