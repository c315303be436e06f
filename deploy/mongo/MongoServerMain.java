import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.ServerVersion;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;

/**
 * A MongoDB-compatible server (mongo-java-server, in-memory backend) on an address of our choosing; the
 * library's own InMemoryMongoServer always binds localhost:27017. Started by deploy/mongo.sh, which waits
 * for the READY line. Data lives in memory only: it is gone when the process ends.
 *
 * Usage: java -cp 'lib/*:classes' MongoServerMain [host [port]]
 * (defaults: $MONGO_HOST or 127.0.0.1, $MONGO_PORT or 27017)
 */
public final class MongoServerMain {
  public static void main(String[] args) {
    String host = args.length > 0 ? args[0] : env("MONGO_HOST", "127.0.0.1");
    int port = Integer.parseInt(args.length > 1 ? args[1] : env("MONGO_PORT", "27017"));

    MongoBackend backend = new MemoryBackend().version(ServerVersion.MONGO_5_0);
    MongoServer server = new MongoServer(backend);
    server.bind(host, port); // throws (exit 1) when the address is taken
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.out.println("stopping mongo-java-server on " + host + ":" + port);
      server.shutdown();
    }, "shutdown"));
    // Netty's event loop threads keep the JVM alive after main returns.
    System.out.println("READY mongo-java-server listening on " + host + ":" + port + " ("
        + ServerVersion.MONGO_5_0 + ", wire version " + ServerVersion.MONGO_5_0.getWireVersion() + ")");
    System.out.flush();
  }

  private static String env(String name, String fallback) {
    String value = System.getenv(name);
    return value == null || value.isEmpty() ? fallback : value;
  }
}
