package testnet

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// nodeConfigFile is the YAML written to nodes/<i>/config.yaml. Its keys follow node.Config
// (node/config.go) so that node.LoadConfig reads it; the test TestConfigsLoad holds the two
// together.
type nodeConfigFile struct {
	DataDir         string   `yaml:"data_dir"`
	GenesisFile     string   `yaml:"genesis_file"`
	IdentityKeyFile string   `yaml:"identity_key_file"`
	BLSKeyFile      string   `yaml:"bls_key_file"`
	ListenAddrs     []string `yaml:"listen_addrs"`
	Bootstrap       []string `yaml:"bootstrap"`
	APIAddr         string   `yaml:"api_addr,omitempty"`
	LogLevel        string   `yaml:"log_level,omitempty"`
}

// writeNodeConfig writes nodes/<i>/config.yaml: absolute paths inside the node directory,
// the node's listen addresses, and every other node as bootstrap peer (DESIGN.md §8).
func writeNodeConfig(o Options, l *Layout, i int) error {
	nf := &l.Nodes[i]
	c := nodeConfigFile{
		DataDir:         nf.DataDir,
		GenesisFile:     l.GenesisFile,
		IdentityKeyFile: nf.IdentityKeyFile,
		BLSKeyFile:      nf.BLSKeyFile,
		ListenAddrs:     nf.ListenAddrs,
		APIAddr:         nf.APIAddr,
		LogLevel:        o.LogLevel,
	}
	for j := range l.Nodes {
		if j != i {
			nf.Bootstrap = append(nf.Bootstrap, l.Nodes[j].Dialable()...)
		}
	}
	c.Bootstrap = nf.Bootstrap
	b, err := yaml.Marshal(&c)
	if err != nil {
		return err
	}
	return writeFileAtomic(nf.ConfigFile, b, 0o644)
}

// readNodeConfig reads back a config.yaml written by writeNodeConfig.
func readNodeConfig(path string) (*nodeConfigFile, error) {
	b, err := readBounded(path, maxConfigFile)
	if err != nil {
		return nil, err
	}
	var c nodeConfigFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("testnet: %s: %w", path, err)
	}
	return &c, nil
}
