# Loads dist/clown.rb against a small stand-in for Homebrew's Formula DSL and checks what
# the formula declares: source URL and sha256, the Rust build dependency, and a service
# whose launchd socket is named "Listeners" (the name the daemon asks launchd for) on
# 127.0.0.1:8765. The socket naming mirrors Homebrew's Service#sockets: a bare string is
# named :listeners, a hash keeps its keys. Usage: ruby check_formula.rb dist/clown.rb SHA256
require "pathname"

class Formula
  class << self
    attr_reader :fields, :deps, :service_block, :test_block

    def method_missing(name, *args, **kwargs, &block)
      (@fields ||= {})[name] = args.first
      super unless %i[desc homepage url sha256 license].include?(name)
    end

    def respond_to_missing?(*) = true
    def depends_on(spec) = (@deps ||= []) << spec
    def service(&block) = @service_block = block
    def test(&block) = @test_block = block
  end

  def opt_bin = Pathname("/opt/homebrew/opt/clown/bin")
  def var = Pathname("/opt/homebrew/var")
end

class Service
  attr_reader :settings

  def initialize(formula) = (@formula = formula; @settings = {})
  def run(command) = @settings[:run] = Array(command).map(&:to_s)
  def sockets(value) = @settings[:sockets] = value.is_a?(String) ? { listeners: value } : value
  def method_missing(name, *args) = @formula.respond_to?(name) ? @formula.send(name, *args) : @settings[name] = args.first
  def respond_to_missing?(*) = true
end

path, sha256 = ARGV
load path
klass = Object.const_get(:Clown)
failures = []
check = ->(what, ok) { failures << what unless ok }

check.("url ends in clown-<version>.tar.gz", klass.fields[:url].to_s.match?(%r{/clown-\d[^/]*\.tar\.gz\z}))
check.("sha256 is the tarball's", klass.fields[:sha256] == sha256)
check.("license MIT", klass.fields[:license] == "MIT")
check.("depends_on rust => :build", (klass.deps || []).include?({ "rust" => :build }))
check.("has a test block", !klass.test_block.nil?)
check.("has a service block", !klass.service_block.nil?)
if klass.service_block
  service = Service.new(klass.allocate)
  service.instance_eval(&klass.service_block)
  s = service.settings
  check.("service runs `clown daemon`", s[:run] == ["/opt/homebrew/opt/clown/bin/clown", "daemon"])
  check.("socket named Listeners on tcp://127.0.0.1:8765",
         s[:sockets].is_a?(Hash) && s[:sockets].transform_keys(&:to_s) == { "Listeners" => "tcp://127.0.0.1:8765" })
end

if failures.empty?
  puts "formula ok"
else
  failures.each { |f| warn "formula check failed: #{f}" }
  exit 1
end
